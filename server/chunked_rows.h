// Rows of `width` values in fixed-size chunks, for a sparse table's values, optimizer slots and
// per-row step counts. Appending never moves a row: a growing std::vector copies every row to a
// buffer twice as large, holding both copies for a moment (and, with an allocator that keeps
// freed memory, for good), which put a 10^7-row table at 1.9x its raw bytes. Chunks are
// allocated uninitialised, so a chunk's pages become resident only as its rows are written.
#ifndef PS_SERVER_CHUNKED_ROWS_H_
#define PS_SERVER_CHUNKED_ROWS_H_

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace ps {

template <typename T>
class ChunkedRows {
 public:
  // REQUIRES: width >= 1.
  explicit ChunkedRows(size_t width)
      : width_(width), rows_per_chunk_(std::max<size_t>(1, kChunkBytes / (width * sizeof(T)))) {}

  size_t size() const { return rows_; }
  size_t width() const { return width_; }

  // Appends a row of `fill` values and returns it.
  T* Append(T fill) {
    if (rows_ == chunks_.size() * rows_per_chunk_) {
      chunks_.emplace_back(new T[rows_per_chunk_ * width_]);  // Uninitialised: not resident yet.
    }
    T* row = this->row(rows_++);
    std::fill(row, row + width_, fill);
    return row;
  }

  T* row(size_t r) { return chunks_[r / rows_per_chunk_].get() + (r % rows_per_chunk_) * width_; }
  const T* row(size_t r) const {
    return chunks_[r / rows_per_chunk_].get() + (r % rows_per_chunk_) * width_;
  }

  void swap(ChunkedRows& other) {
    std::swap(width_, other.width_);
    std::swap(rows_per_chunk_, other.rows_per_chunk_);
    std::swap(rows_, other.rows_);
    chunks_.swap(other.chunks_);
  }

 private:
  static constexpr size_t kChunkBytes = size_t{256} << 10;

  size_t width_;
  size_t rows_per_chunk_;
  size_t rows_ = 0;
  std::vector<std::unique_ptr<T[]>> chunks_;
};

}  // namespace ps

#endif  // PS_SERVER_CHUNKED_ROWS_H_
