// A small file holding one protobuf message, recognisable and checked: the checkpoint MANIFEST
// and the coordinator's state file are such files.
//
// Format, version 1 (integers little-endian):
//   8 bytes   magic, naming the kind of file (e.g. "PSMANIF1", "PSCOORD1")
//   8 bytes   M, the length of the message
//   M bytes   the serialised message
//   4 bytes   CRC-32C (common/crc32c.h) of every byte before it
// Written atomically (common/file_util.h: temporary file, fsync, rename, fsync the directory),
// so a crash leaves the old file or the new one; a torn or altered file fails the checksum.
//
// Stateless functions; safe for concurrent use on different paths.
#ifndef PS_COMMON_MESSAGE_FILE_H_
#define PS_COMMON_MESSAGE_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace ps {

// The file's bytes. REQUIRES: magic.size() == 8.
std::string EncodeMessageFile(absl::string_view magic, const google::protobuf::MessageLite& message);

// Parses `contents` (read from `path`, which errors name) into `message`. `what` names the kind
// of file in errors ("a checkpoint manifest").
// Errors: DataLoss naming the path and the problem: "not <what>" (wrong magic or too short),
// "truncated or overlong", "checksum mismatch: corrupt", "does not parse".
absl::Status DecodeMessageFile(absl::string_view contents, absl::string_view magic,
                               const std::string& path, absl::string_view what,
                               google::protobuf::MessageLite* message);

// Replaces `path` atomically. Errors: as WriteFileAtomically (file_util.h).
absl::Status WriteMessageFile(const std::string& path, absl::string_view magic,
                              const google::protobuf::MessageLite& message);

// Reads and checks `path`. Errors: as ReadFileToString (NotFound for a missing file, ...) and
// DecodeMessageFile.
absl::Status ReadMessageFile(const std::string& path, absl::string_view magic,
                             absl::string_view what, google::protobuf::MessageLite* message);

}  // namespace ps

#endif  // PS_COMMON_MESSAGE_FILE_H_
