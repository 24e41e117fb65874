// Reads (Fashion-)MNIST's IDX files into a DenseDataset. Files may be gzip-compressed or plain
// (zlib reads both). Stateless; safe for concurrent use.
//
// The IDX layout (http://yann.lecun.com/exdb/mnist/): a big-endian 32-bit magic number
// 0x000008DD, where 08 says unsigned bytes and DD the number of dimensions, then DD big-endian
// 32-bit sizes, then the data row-major. Images are 0x00000803 (count, rows, columns), labels
// 0x00000801 (count).
#ifndef PS_WORKER_DATA_IDX_READER_H_
#define PS_WORKER_DATA_IDX_READER_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"

namespace ps {

// Pairs an image file with its label file: features are the pixels scaled to [0, 1]
// (byte / 255), feature_dim = rows * columns, num_classes = 10. The description names both files.
// Errors, each naming the file:
//   NotFound          a file does not exist (other open failures map from errno);
//   InvalidArgument   wrong magic number, a zero or absurd dimension (more than 2^16 rows or
//                     columns, 2^27 examples or 2^32 pixels), image and label counts that differ,
//                     a label >= 10 (with its index), or bytes after the declared data;
//   DataLoss          the data ends early (bytes expected vs. read) or the gzip stream is corrupt.
absl::StatusOr<DenseDataset> ReadIdxDataset(const std::string& images_path,
                                            const std::string& labels_path);

// Reads the four standard Fashion-MNIST files in `directory`:
// train-{images-idx3,labels-idx1}-ubyte.gz and t10k-{images-idx3,labels-idx1}-ubyte.gz. Returns
// {train, test}, described as "Fashion-MNIST train (<directory>)" and "Fashion-MNIST test
// (<directory>)". Errors as above.
absl::StatusOr<std::pair<DenseDataset, DenseDataset>> ReadFashionMnist(
    const std::string& directory);

}  // namespace ps

#endif  // PS_WORKER_DATA_IDX_READER_H_
