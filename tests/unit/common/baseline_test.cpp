#include "common/baseline/baseline.h"

#include <doctest/doctest.h>

#include "common/model/file_attrs_text.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::baseline;
using model::Attr;
using model::bit;

namespace {

BaselineEntry fileEntry(std::string path, std::string_view content) {
  BaselineEntry e;
  e.path = std::move(path);
  e.attrs.type = model::FileType::kFile;
  e.attrs.mode = 0644;
  e.attrs.size = content.size();
  e.attrs.sha256 = Sha256::of(content);
  e.attrs.mask = bit(Attr::kType) | bit(Attr::kMode) | bit(Attr::kOwner) | bit(Attr::kGroup) |
                 bit(Attr::kSize) | bit(Attr::kSha256);
  return e;
}

}  // namespace

TEST_CASE("a baseline survives a round trip, including hostile file names") {
  Baseline b;
  b.policy = "web";
  b.recordedAt = "2026-11-27T17:40:00Z";
  b.recordedBy = "root";
  b.recordedOn = "web-01";
  b.entries.push_back(fileEntry("/etc/with space", "a"));
  b.entries.push_back(fileEntry(std::string("/etc/new\nline\ttab"), "b"));
  b.entries.push_back(fileEntry(std::string("/etc/bytes\xff\xfe", 12), "c"));
  b.entries.push_back(fileEntry("/etc/back\\slash", "d"));
  BaselineEntry link;
  link.path = "/etc/link";
  link.attrs.type = model::FileType::kSymlink;
  link.attrs.target = "../x y\n";
  link.attrs.mask = bit(Attr::kType) | bit(Attr::kTarget);
  b.entries.push_back(link);
  b.accepts.push_back({"2026-11-28T09:00:00Z",
                       "alice",
                       "web-01",
                       "new cert\tfor\nprod",
                       {model::ResourceId{model::ResourceKind::kFile, "/etc/with space"}}});
  b.sortEntries();

  const std::string text = serializeBaseline(b);
  // One entry per line: no raw newline inside an entry.
  size_t lines = 0;
  for (char c : text)
    lines += c == '\n';
  CHECK(lines == 3 + 4 + b.entries.size());

  auto back = parseBaseline(text, "b.txt");
  REQUIRE(back.ok());
  CHECK(back->policy == "web");
  CHECK(back->recordedOn == "web-01");
  REQUIRE(back->entries.size() == b.entries.size());
  for (size_t i = 0; i < b.entries.size(); ++i) {
    CHECK(back->entries[i].path == b.entries[i].path);
    CHECK(model::formatFileAttrs(back->entries[i].attrs) ==
          model::formatFileAttrs(b.entries[i].attrs));
  }
  REQUIRE(back->accepts.size() == 1);
  CHECK(back->accepts[0].reason == "new cert\tfor\nprod");
  CHECK(back->accepts[0].resources[0].name == "/etc/with space");
  // Serialising again gives the same bytes: stable diffs in version control.
  CHECK(serializeBaseline(*back) == text);
}

TEST_CASE("entries are sorted and looked up by path, subtrees are contiguous") {
  Baseline b;
  for (const char* p :
       {"/etc/nginx/b", "/etc/nginx", "/etc/nginx-old", "/etc/nginx/a/c", "/etc/z"}) {
    b.entries.push_back(fileEntry(p, ""));
  }
  b.sortEntries();
  CHECK(b.find("/etc/nginx") != nullptr);
  CHECK(b.find("/etc/nginx/zz") == nullptr);
  const auto below = b.below("/etc/nginx");
  REQUIRE(below.size() == 2);
  CHECK(below[0].path == "/etc/nginx/a/c");
  CHECK(below[1].path == "/etc/nginx/b");
  CHECK(b.below("/").size() == 5);
  CHECK(b.below("/nothing").empty());
  b.upsert(fileEntry("/etc/nginx/aa", "x"));
  CHECK(b.below("/etc/nginx").size() == 3);
  CHECK(b.erase("/etc/nginx/aa"));
  CHECK_FALSE(b.erase("/etc/nginx/aa"));
}

TEST_CASE("malformed baselines get one error with line and column") {
  const auto err = [](const std::string& text) {
    auto b = parseBaseline(text, "b.txt");
    if (b.ok()) FAIL("expected an error for: " << text);
    return b.error().describe();
  };
  CHECK(err("file:/x\ttype=file\n").find("b.txt:1:1") != std::string::npos);
  CHECK(err("").find("no '@format'") != std::string::npos);
  CHECK(err("@format\t2\n").find("not supported") != std::string::npos);
  CHECK(err("@format\t1\nfile:/x\ttype=file\tmode=999\n").find("b.txt:2:24") != std::string::npos);
  CHECK(err("@format\t1\nfile:/x\tcolour=red\n").find("unknown attribute 'colour'") !=
        std::string::npos);
  CHECK(err("@format\t1\nfile:/x\tsha256=abc\ttype=file\n").find("64 hexadecimal") !=
        std::string::npos);
  CHECK(err("@format\t1\nfile:/x\n# note\nfile:/x\n").find("listed twice (also on line 2)") !=
        std::string::npos);
  CHECK(err("@format\t1\nsysctl:kernel.x\tvalue=1\n").find("only file entries") !=
        std::string::npos);
  CHECK(err("@format\t1\nfile:relative\n").find("absolute") != std::string::npos);
  CHECK(err("@format\t1\nfile:/etc//x\n").find("plain absolute path") != std::string::npos);
  CHECK(err("@format\t1\nfile:/etc/x/\n").find("plain absolute path") != std::string::npos);
  CHECK(err("@format\t1\nfile:/x\tmode\n").find("NAME=VALUE") != std::string::npos);
  CHECK(err("@format\t1\n@bogus\tx\n").find("unknown header") != std::string::npos);
  CHECK(err("@format\t1\nfile:/x\ttarget=a\n").find("must also record its type") !=
        std::string::npos);
  CHECK(err("@format\t1\nfile:/bad\\q\n").find("b.txt:2:1") != std::string::npos);
}

TEST_CASE("saving is atomic and the file loads back") {
  testing::TempDir dir;
  Baseline b;
  b.policy = "p";
  b.entries.push_back(fileEntry("/a", "x"));
  REQUIRE(saveBaseline(dir.at("b.txt"), b).ok());
  auto back = loadBaseline(dir.at("b.txt"));
  REQUIRE(back.ok());
  CHECK(back->entries.size() == 1);
  auto missing = loadBaseline(dir.at("nope.txt"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().describe().find("nope.txt") != std::string::npos);
}

TEST_CASE("a large baseline file loads line by line like the same text parsed whole") {
  testing::TempDir dir;
  // About 1.5 MB: lines cross the reader's 256 KiB chunks; CRLF endings and no final newline.
  std::string text = "@format\t1\r\n@policy\tp\n";
  for (int i = 0; i < 20000; ++i) {
    text += "file:/srv/data/" + std::string(40, 'x') + std::to_string(i) +
            "\ttype=file\tmode=0644\towner=0\tgroup=0\tsize=" + std::to_string(i) + "\r\n";
  }
  text += "file:/srv/last\ttype=dir";
  dir.write("b.txt", text);
  auto loaded = loadBaseline(dir.at("b.txt"));
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().describe());
  auto parsed = parseBaseline(text, dir.at("b.txt"));
  REQUIRE(parsed.ok());
  REQUIRE(loaded->entries.size() == 20001);
  CHECK(serializeBaseline(*loaded) == serializeBaseline(*parsed));
  CHECK(loaded->find("/srv/last") != nullptr);

  // An error far into the file still names its line.
  text += "\nfile:/srv/broken\tmode=12\n";
  dir.write("b.txt", text);
  auto broken = loadBaseline(dir.at("b.txt"));
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().where.find("b.txt:20004:") != std::string::npos);
}
