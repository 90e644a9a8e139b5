#pragma once
// Command-line parsing shared by driftwatch's binaries (CLI11): help and version print and
// exit 0; a parse error is one line on stderr naming the program, and exit code `errorCode`.
// Header-only, so that only the binaries that parse arguments include CLI11.

#include <iostream>
#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>

namespace driftwatch::cli {

// nullopt: parsed, go on; otherwise the exit code to return from main.
inline std::optional<int> parseArgs(CLI::App& app, int argc, char** argv, std::string_view program,
                                    int errorCode) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << program << ": error: " << e.what() << "\n"
              << "Run with --help for usage.\n";
    return errorCode;
  }
  return std::nullopt;
}

}  // namespace driftwatch::cli
