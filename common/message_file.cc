#include "common/message_file.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_util.h"

namespace ps {
namespace {

constexpr size_t kMagicSize = 8;

}  // namespace

std::string EncodeMessageFile(absl::string_view magic,
                              const google::protobuf::MessageLite& message) {
  const std::string serialized = message.SerializeAsString();
  const uint64_t length = serialized.size();
  std::string contents(magic.substr(0, kMagicSize));
  contents.append(reinterpret_cast<const char*>(&length), sizeof(length));
  contents.append(serialized);
  const uint32_t crc = Crc32c(0, contents.data(), contents.size());
  contents.append(reinterpret_cast<const char*>(&crc), sizeof(crc));
  return contents;
}

absl::Status DecodeMessageFile(absl::string_view contents, absl::string_view magic,
                               const std::string& path, absl::string_view what,
                               google::protobuf::MessageLite* message) {
  const size_t prefix = kMagicSize + sizeof(uint64_t);
  if (contents.size() < prefix || contents.substr(0, kMagicSize) != magic.substr(0, kMagicSize)) {
    return absl::DataLossError(absl::StrCat(path, ": not ", what));
  }
  uint64_t length = 0;
  std::memcpy(&length, contents.data() + kMagicSize, sizeof(length));
  if (length > contents.size() || prefix + length + sizeof(uint32_t) != contents.size()) {
    return absl::DataLossError(absl::StrCat(path, ": truncated or overlong (", contents.size(),
                                            " bytes; the header says ",
                                            prefix + length + sizeof(uint32_t), ")"));
  }
  uint32_t stored = 0;
  std::memcpy(&stored, contents.data() + prefix + length, sizeof(stored));
  if (Crc32c(0, contents.data(), prefix + length) != stored) {
    return absl::DataLossError(absl::StrCat(path, ": checksum mismatch: corrupt"));
  }
  if (!message->ParseFromArray(contents.data() + prefix, static_cast<int>(length))) {
    return absl::DataLossError(absl::StrCat(path, ": does not parse"));
  }
  return absl::OkStatus();
}

absl::Status WriteMessageFile(const std::string& path, absl::string_view magic,
                              const google::protobuf::MessageLite& message) {
  return WriteFileAtomically(path, EncodeMessageFile(magic, message));
}

absl::Status ReadMessageFile(const std::string& path, absl::string_view magic,
                             absl::string_view what, google::protobuf::MessageLite* message) {
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (!contents.ok()) return contents.status();
  return DecodeMessageFile(*contents, magic, path, what, message);
}

}  // namespace ps
