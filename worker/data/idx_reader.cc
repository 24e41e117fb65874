#include "worker/data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ps {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int kNumClasses = 10;
// Limits far above any real image set; a header beyond them is corrupt, and rejecting it keeps a
// bad file from making us allocate gigabytes.
constexpr uint32_t kMaxSide = 1u << 16;
constexpr uint32_t kMaxExamples = 1u << 27;
constexpr uint64_t kMaxPixels = uint64_t{1} << 32;

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};

// One open IDX file, read front to back.
class IdxFile {
 public:
  static absl::StatusOr<IdxFile> Open(const std::string& path) {
    errno = 0;
    gzFile file = gzopen(path.c_str(), "rb");
    if (file == nullptr) {
      // gzopen fails with errno set when open() fails, and without it only when out of memory.
      if (errno == 0) return absl::ResourceExhaustedError(absl::StrCat("cannot open ", path));
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot open IDX file ", path));
    }
    return IdxFile(path, file);
  }

  // Reads exactly `size` bytes; `what` names them in the error when the file ends early.
  absl::Status ReadExactly(uint8_t* data, uint64_t size, absl::string_view what) {
    absl::StatusOr<uint64_t> done = ReadUpTo(data, size);
    if (!done.ok()) return done.status();
    if (*done < size) return Truncated(size, *done, what);
    return absl::OkStatus();
  }

  // Reads exactly `size` bytes into `out`, growing it a chunk at a time as the data arrives: a
  // header that claims more data than the file holds costs no more memory than the file (the
  // header's claim alone could be 4 GiB).
  absl::Status ReadGrowing(uint64_t size, absl::string_view what, std::vector<uint8_t>* out) {
    constexpr uint64_t kChunk = uint64_t{16} << 20;
    out->clear();
    while (out->size() < size) {
      const uint64_t done = out->size();
      const uint64_t want = std::min(size - done, kChunk);
      out->resize(done + want);
      absl::StatusOr<uint64_t> got = ReadUpTo(out->data() + done, want);
      if (!got.ok()) return got.status();
      if (*got < want) return Truncated(size, done + *got, what);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> ReadBigEndian32(absl::string_view what) {
    uint8_t bytes[4];
    if (absl::Status status = ReadExactly(bytes, sizeof(bytes), what); !status.ok()) return status;
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           uint32_t{bytes[3]};
  }

  absl::Status ExpectMagic(uint32_t expected, absl::string_view kind) {
    absl::StatusOr<uint32_t> magic = ReadBigEndian32("header");
    if (!magic.ok()) return magic.status();
    if (*magic != expected) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s is not an IDX %s file: magic number 0x%08x, expected 0x%08x", path_,
                          kind, *magic, expected));
    }
    return absl::OkStatus();
  }

  // A header dimension, checked to be in [1, limit].
  absl::StatusOr<uint32_t> ReadDimension(absl::string_view name, uint32_t limit) {
    absl::StatusOr<uint32_t> value = ReadBigEndian32("header");
    if (!value.ok()) return value.status();
    if (*value == 0 || *value > limit) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": header says ", *value, " ", name,
                                                     ", expected between 1 and ", limit));
    }
    return *value;
  }

  // The data must end exactly where the header says: anything after it means the header and the
  // data disagree, so the file is not what we think it is.
  absl::Status ExpectEnd() {
    uint8_t extra[256];
    uint64_t total = 0;
    for (;;) {
      const int n = gzread(file_.get(), extra, sizeof(extra));
      if (n < 0) return StreamError();
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
    }
    if (total > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path_, " has ", total, " bytes after the data its header declares, expected none"));
    }
    return absl::OkStatus();
  }

  const std::string& path() const { return path_; }

 private:
  IdxFile(const std::string& path, gzFile file) : path_(path), file_(file) {}

  // Reads until `size` bytes or the end of the file; returns how many.
  absl::StatusOr<uint64_t> ReadUpTo(uint8_t* data, uint64_t size) {
    uint64_t done = 0;
    while (done < size) {
      const unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(size - done, INT_MAX));
      const int n = gzread(file_.get(), data + done, chunk);
      if (n < 0) return StreamError();
      if (n == 0) break;
      done += static_cast<uint64_t>(n);
    }
    return done;
  }

  absl::Status Truncated(uint64_t expected, uint64_t got, absl::string_view what) const {
    return absl::DataLossError(absl::StrCat(path_, " is truncated: expected ", expected,
                                            " bytes of ", what, ", got ", got));
  }

  absl::Status StreamError() {
    int code = Z_OK;
    const char* message = gzerror(file_.get(), &code);
    if (code == Z_ERRNO) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path_));
    return absl::DataLossError(absl::StrCat("cannot decompress ", path_, ": ", message));
  }

  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
};

}  // namespace

absl::StatusOr<DenseDataset> ReadIdxDataset(const std::string& images_path,
                                            const std::string& labels_path) {
  absl::StatusOr<IdxFile> images = IdxFile::Open(images_path);
  if (!images.ok()) return images.status();
  if (absl::Status s = images->ExpectMagic(kImagesMagic, "images"); !s.ok()) return s;
  absl::StatusOr<uint32_t> count = images->ReadDimension("images", kMaxExamples);
  if (!count.ok()) return count.status();
  absl::StatusOr<uint32_t> rows = images->ReadDimension("rows", kMaxSide);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<uint32_t> columns = images->ReadDimension("columns", kMaxSide);
  if (!columns.ok()) return columns.status();
  const uint64_t feature_dim = uint64_t{*rows} * *columns;
  const uint64_t num_pixels = uint64_t{*count} * feature_dim;
  if (num_pixels > kMaxPixels || feature_dim > INT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat(images_path, ": header says ", *count, " images of ", *rows, "x", *columns,
                     " pixels, more than the limit of ", kMaxPixels, " pixels"));
  }

  absl::StatusOr<IdxFile> labels = IdxFile::Open(labels_path);
  if (!labels.ok()) return labels.status();
  if (absl::Status s = labels->ExpectMagic(kLabelsMagic, "labels"); !s.ok()) return s;
  absl::StatusOr<uint32_t> label_count = labels->ReadDimension("labels", kMaxExamples);
  if (!label_count.ok()) return label_count.status();
  if (*label_count != *count) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " holds ", *count, " images but ",
                                                   labels_path, " holds ", *label_count,
                                                   " labels; expected the same count"));
  }

  std::vector<uint8_t> buffer;
  if (absl::Status s = images->ReadGrowing(num_pixels, "pixel data", &buffer); !s.ok()) return s;
  if (absl::Status s = images->ExpectEnd(); !s.ok()) return s;
  DenseDataset dataset;
  dataset.num_examples = *count;
  dataset.feature_dim = static_cast<int>(feature_dim);
  dataset.num_classes = kNumClasses;
  dataset.features.resize(num_pixels);
  for (uint64_t i = 0; i < num_pixels; ++i) dataset.features[i] = buffer[i] / 255.0f;

  if (absl::Status s = labels->ReadGrowing(*count, "labels", &buffer); !s.ok()) return s;
  if (absl::Status s = labels->ExpectEnd(); !s.ok()) return s;
  dataset.labels.resize(*count);
  for (uint32_t i = 0; i < *count; ++i) {
    if (buffer[i] >= kNumClasses) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", buffer[i],
                                                     " at index ", i, ", expected 0 to ",
                                                     kNumClasses - 1));
    }
    dataset.labels[i] = buffer[i];
  }
  dataset.description = absl::StrCat("IDX (", images_path, ", ", labels_path, ")");
  return dataset;
}

absl::StatusOr<std::pair<DenseDataset, DenseDataset>> ReadFashionMnist(
    const std::string& directory) {
  absl::StatusOr<DenseDataset> train =
      ReadIdxDataset(absl::StrCat(directory, "/train-images-idx3-ubyte.gz"),
                     absl::StrCat(directory, "/train-labels-idx1-ubyte.gz"));
  if (!train.ok()) return train.status();
  absl::StatusOr<DenseDataset> test =
      ReadIdxDataset(absl::StrCat(directory, "/t10k-images-idx3-ubyte.gz"),
                     absl::StrCat(directory, "/t10k-labels-idx1-ubyte.gz"));
  if (!test.ok()) return test.status();
  train->description = absl::StrCat("Fashion-MNIST train (", directory, ")");
  test->description = absl::StrCat("Fashion-MNIST test (", directory, ")");
  return std::make_pair(*std::move(train), *std::move(test));
}

}  // namespace ps
