// Encode and decode cost of the gradient codecs. Encode runs through each compute backend's
// Encode* operations, as a worker does (the CPU backend, and the CUDA backend when a GPU is
// usable; CUDA times include copying the payload to the host); decode is the server's
// validate-then-accumulate pass over a payload in a frame. Figures are milliseconds per MB of
// float32 gradient (dense-equivalent MB), for the demo MLP's gradient (235,146 values) and a 64 MB
// one. Usage: codec_bench [--seconds=0.5 per measurement].
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/codec/compression.h"
#include "common/codec/decoder.h"
#include "common/codec/encoder.h"
#include "common/frame.h"
#include "worker/compute/cpu_backend.h"
#include "worker/compute/cuda/cuda_backend.h"
#include "worker/compute/encode_on_backend.h"

ABSL_FLAG(double, seconds, 0.5, "Minimum time per measurement.");

namespace ps {
namespace {

using Clock = std::chrono::steady_clock;

// Mean seconds per call of `fn`, repeated for at least --seconds after one warm-up call.
template <typename Fn>
double TimePerCall(Fn&& fn) {
  fn();
  const double budget = absl::GetFlag(FLAGS_seconds);
  int calls = 0;
  const Clock::time_point start = Clock::now();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < budget);
  return elapsed / calls;
}

// Milliseconds per dense-equivalent MB of encoding `count` values with `codec` on `backend`.
double EncodeMsPerMb(ComputeBackend& backend, const Compression& codec,
                     const std::vector<float>& host) {
  const size_t n = host.size();
  DeviceArray<float> values = *backend.Allocate<float>(n);
  DeviceArray<float> residual = *backend.Allocate<float>(n);
  if (!backend.Upload<float>(host, values).ok() ||
      !backend.Upload<float>(std::vector<float>(n, 0.0f), residual).ok()) {
    return -1;
  }
  std::vector<char> out(EncodedBytes(codec, n));
  absl::Status status;
  const double seconds = TimePerCall([&] {
    status.Update(EncodeOnBackend(backend, codec, values.data(), residual.data(), n, out.data()));
  });
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", backend.name().c_str(), status.ToString().c_str());
    return -1;
  }
  return seconds * 1e3 / (n * sizeof(float) / 1e6);
}

// The server's side: validate the payload, then add it into an accumulator (a BSP push).
double DecodeMsPerMb(const Compression& codec, const std::vector<float>& host) {
  const size_t n = host.size();
  std::vector<float> residual(n, 0.0f);
  std::vector<char> payload(EncodedBytes(codec, n));
  if (!EncodeTensor(codec, host, absl::MakeSpan(residual), payload.data()).ok()) std::abort();
  const v1::TensorHeader header = DescribeEncoded(codec, n);
  const grpc::ByteBuffer frame = MakeFrame(header, {BorrowedSlice(payload.data(), payload.size())});
  std::vector<float> sum(n, 0.0f);
  const double seconds = TimePerCall([&] {
    v1::TensorHeader parsed;
    FrameReader reader = *FrameReader::Open(frame, &parsed);
    const FrameReader start = reader;
    if (!ValidateEncoded(parsed, n, reader).ok()) std::abort();
    if (parsed.encoding() == v1::ENCODING_TOPK) {
      ForEachTopkChunk(parsed, start,
                       [&](absl::Span<const uint32_t> indices, absl::Span<const float> chunk) {
                         for (size_t i = 0; i < indices.size(); ++i) sum[indices[i]] += chunk[i];
                       });
    } else {
      ForEachDecodedBlock(parsed, start, [&](uint64_t first, absl::Span<const float> block) {
        for (size_t i = 0; i < block.size(); ++i) sum[first + i] += block[i];
      });
    }
  });
  return seconds * 1e3 / (n * sizeof(float) / 1e6);
}

void Run() {
  std::unique_ptr<ComputeBackend> cpu = CreateCpuBackend(1);
  absl::StatusOr<std::unique_ptr<ComputeBackend>> cuda = CreateCudaBackend();
  if (!cuda.ok()) std::printf("cuda: skipped (%s)\n", cuda.status().ToString().c_str());
  std::printf(
      "ms per MB of float32 gradient (lower is better); encode on %s%s%s, decode = "
      "server validate + accumulate on one CPU core\n",
      cpu->name().c_str(), cuda.ok() ? " and " : "", cuda.ok() ? (*cuda)->name().c_str() : "");
  std::printf("%-10s %10s %12s %12s %12s %10s\n", "codec", "values", "encode cpu", "encode cuda",
              "decode cpu", "ratio");
  std::mt19937 random(1);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  for (const size_t n : {size_t{235146}, size_t{16} << 20}) {
    std::vector<float> gradient(n);
    for (float& value : gradient) value = normal(random);
    for (const char* name : {"none", "fp16", "int8", "topk:0.01", "onebit"}) {
      const Compression codec = *ParseCompression(name);
      const double encode_cpu = codec.dense() ? 0 : EncodeMsPerMb(*cpu, codec, gradient);
      const double encode_cuda =
          codec.dense() || !cuda.ok() ? -1 : EncodeMsPerMb(**cuda, codec, gradient);
      const double decode = DecodeMsPerMb(codec, gradient);
      const std::string cuda_text =
          encode_cuda < 0 ? std::string("-") : std::to_string(encode_cuda).substr(0, 7);
      std::printf("%-10s %10zu %12.3f %12s %12.3f %9.1fx\n", name, n, encode_cpu, cuda_text.c_str(),
                  decode, static_cast<double>(n * sizeof(float)) / EncodedBytes(codec, n));
    }
  }
}

}  // namespace
}  // namespace ps

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ps::Run();
  return 0;
}
