// Reads LIBSVM / SVMlight text files of binary-labelled sparse examples into a SparseDataset.
// Stateless; safe for concurrent use.
//
// One example per line: `label index:value index:value ...`, tokens separated by spaces or tabs.
//   * label: 1 or +1 (also 1.0) is the positive class, stored as 1; 0 or -1 is stored as 0;
//     any other label is an error (this reader is for binary classification).
//   * index: a non-negative decimal integer, kept as given (files may count from 0 or from 1;
//     key_space then is max index + 1 either way). An index may appear once per line.
//   * value: a finite float.
// Blank lines are skipped, and `#` starts a comment that runs to the end of its line.
#ifndef PS_WORKER_DATA_LIBSVM_READER_H_
#define PS_WORKER_DATA_LIBSVM_READER_H_

#include <string>

#include "absl/status/statusor.h"
#include "worker/data/dataset.h"

namespace ps {

// The examples of the file at `path` in file order; key_space = largest index + 1; description
// "LIBSVM (<path>)". Errors: NotFound (or the errno's code) when the file cannot be opened;
// InvalidArgument naming "<path>:<line>" and the offending token for a bad label, a feature
// without a colon, a non-numeric or negative index, the index 2^64 - 1 (key_space would overflow), a non-numeric, NaN or infinite value, or a
// repeated index; InvalidArgument when the file holds no examples.
absl::StatusOr<SparseDataset> ReadLibsvm(const std::string& path);

}  // namespace ps

#endif  // PS_WORKER_DATA_LIBSVM_READER_H_
