# Shared compile settings for driftwatch's own targets. Third-party headers stay system
# headers (never -I/usr/include), so the strict warnings below apply to our code only.

include(CheckPIESupported)
check_pie_supported()

set(DRIFTWATCH_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wformat=2
    -Wimplicit-fallthrough)
if(DRIFTWATCH_WERROR)
  list(APPEND DRIFTWATCH_WARNINGS -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 raises a false -Wrestrict inside libstdc++ at -O2 (std::string operator+).
  list(APPEND DRIFTWATCH_WARNINGS -Wno-restrict)
endif()

set(DRIFTWATCH_HARDENING -fstack-protector-strong -fno-strict-overflow)
if(NOT DRIFTWATCH_SANITIZE AND NOT DRIFTWATCH_FUZZ)
  # _FORTIFY_SOURCE needs optimisation; it is redundant (and noisy) under ASan.
  list(APPEND DRIFTWATCH_HARDENING $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>)
endif()
set(DRIFTWATCH_LINK_HARDENING -Wl,-z,relro,-z,now)

if(DRIFTWATCH_SANITIZE OR DRIFTWATCH_FUZZ)
  set(DRIFTWATCH_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
endif()
if(DRIFTWATCH_FUZZ)
  # Coverage instrumentation for libFuzzer in every library the fuzz targets link.
  set(DRIFTWATCH_FUZZ_FLAGS -fsanitize=fuzzer-no-link)
endif()

# Applies the project's flags to a target of ours.
function(driftwatch_defaults target)
  target_compile_options(${target} PRIVATE ${DRIFTWATCH_WARNINGS} ${DRIFTWATCH_HARDENING}
                         ${DRIFTWATCH_SANITIZER_FLAGS} ${DRIFTWATCH_FUZZ_FLAGS})
  target_link_options(${target} PRIVATE ${DRIFTWATCH_LINK_HARDENING} ${DRIFTWATCH_SANITIZER_FLAGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

# driftwatch_library(NAME SOURCES ... DEPS ...): one static library per module.
function(driftwatch_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  driftwatch_defaults(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()
