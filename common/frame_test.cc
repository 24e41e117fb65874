#include "common/frame.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/parameter_server.pb.h"

namespace ps {
namespace {

v1::PushRequest SampleHeader() {
  v1::PushRequest header;
  header.set_epoch(7);
  header.set_seq(3);
  v1::ShardSlice* slice = header.add_slices();
  slice->set_table_id(2);
  slice->mutable_values()->set_num_elements(10);
  return header;
}

// Re-splits a frame's bytes into slices cut at `cuts`, as gRPC's receive path might.
grpc::ByteBuffer Resplit(const grpc::ByteBuffer& frame, const std::vector<size_t>& cuts) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(frame.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  std::vector<grpc::Slice> pieces;
  size_t start = 0;
  for (size_t cut : cuts) {
    pieces.emplace_back(bytes.data() + start, cut - start);
    start = cut;
  }
  pieces.emplace_back(bytes.data() + start, bytes.size() - start);
  return grpc::ByteBuffer(pieces.data(), pieces.size());
}

TEST(FrameTest, HeaderAndPayloadRoundTripAcrossOddSliceBoundaries) {
  std::vector<float> first = {1.5f, -2.25f, 3.0f};
  std::vector<float> second(7);
  for (size_t i = 0; i < second.size(); ++i) second[i] = static_cast<float>(i) * 0.5f;
  const grpc::ByteBuffer frame = MakeFrame(
      SampleHeader(), {BorrowedSlice(first.data(), first.size() * sizeof(float)),
                       BorrowedSlice(second.data(), second.size() * sizeof(float))});
  // Cut inside the length prefix, inside the header, and through the middle of floats.
  const grpc::ByteBuffer received = Resplit(frame, {2, 9, 23, 31, 45});

  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(received, &header);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(header.epoch(), 7u);
  EXPECT_EQ(header.slices(0).values().num_elements(), 10u);
  EXPECT_EQ(reader->remaining(), 40u);

  std::vector<float> all(10);
  ASSERT_TRUE(reader->Read(all.data(), 3 * sizeof(float)).ok());
  ASSERT_TRUE(reader->Read(all.data() + 3, 7 * sizeof(float)).ok());
  std::vector<float> expected = first;
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(all, expected);
  EXPECT_EQ(reader->remaining(), 0u);
}

TEST(FrameTest, ACopiedReaderRereadsTheSameBytes) {
  std::vector<float> values = {4.0f, 5.0f};
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(
      MakeFrame(SampleHeader(), {BorrowedSlice(values.data(), 8)}), &header);
  ASSERT_TRUE(reader.ok());
  FrameReader second_pass = *reader;
  float a[2], b[2];
  ASSERT_TRUE(reader->Read(a, 8).ok());
  ASSERT_TRUE(second_pass.Read(b, 8).ok());
  EXPECT_EQ(std::memcmp(a, b, 8), 0);
  EXPECT_EQ(a[1], 5.0f);
}

TEST(FrameTest, ReadSlicesForwardsPayloadBytesAcrossSliceBoundaries) {
  std::vector<float> values(10);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) + 0.25f;
  const grpc::ByteBuffer frame =
      MakeFrame(SampleHeader(), {BorrowedSlice(values.data(), values.size() * sizeof(float))});
  const grpc::ByteBuffer received = Resplit(frame, {3, 30, 41});
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(received, &header);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE(reader->Skip(sizeof(float)).ok());
  std::vector<grpc::Slice> forwarded;
  ASSERT_TRUE(reader->ReadSlices(8 * sizeof(float), &forwarded).ok());
  EXPECT_GT(forwarded.size(), 1u) << "the cuts split the range";
  std::string bytes;
  for (const grpc::Slice& slice : forwarded) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  ASSERT_EQ(bytes.size(), 8 * sizeof(float));
  EXPECT_EQ(std::memcmp(bytes.data(), values.data() + 1, bytes.size()), 0);
  EXPECT_EQ(reader->remaining(), sizeof(float));
  EXPECT_EQ(reader->ReadSlices(2 * sizeof(float), &forwarded).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(reader->remaining(), sizeof(float)) << "a failed read consumes nothing";
}

// Every run of ForEachRun, concatenated, in order.
absl::StatusOr<std::vector<float>> CollectRuns(FrameReader& reader, uint64_t count, size_t max_run,
                                               std::vector<const float*>* starts = nullptr) {
  std::vector<float> values;
  absl::Status status =
      ForEachRun<float>(reader, count, max_run, [&](uint64_t first, absl::Span<const float> run) {
        EXPECT_EQ(first, values.size());
        EXPECT_LE(run.size(), max_run);
        if (starts != nullptr) starts->push_back(run.data());
        values.insert(values.end(), run.begin(), run.end());
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return values;
}

TEST(FrameTest, ForEachRunReadsAlignedSlicesInPlace) {
  std::vector<float> payload(10);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<float>(i) - 4.5f;
  const grpc::ByteBuffer frame =
      MakeFrame(SampleHeader(), {BorrowedSlice(payload.data(), payload.size() * sizeof(float))});
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &header);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<const float*> starts;
  absl::StatusOr<std::vector<float>> values = CollectRuns(*reader, 10, 4, &starts);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(*values, payload);
  // Runs of 4, 4 and 2 values, each pointing into the sender's own vector: nothing was copied.
  EXPECT_EQ(starts, (std::vector<const float*>{payload.data(), payload.data() + 4,
                                                payload.data() + 8}));
  EXPECT_EQ(reader->remaining(), 0u);
}

TEST(FrameTest, ForEachRunCopiesStraddlingAndMisalignedValues) {
  std::vector<float> payload(37);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<float>(i) * 0.25f + 1.0f;
  const grpc::ByteBuffer frame =
      MakeFrame(SampleHeader(), {BorrowedSlice(payload.data(), payload.size() * sizeof(float))});
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(frame.Dump(&slices).ok());
  const size_t header_bytes = slices[0].size();
  // Cuts through floats and an empty piece, so runs start misaligned and values straddle slices.
  const grpc::ByteBuffer received =
      Resplit(frame, {header_bytes + 3, header_bytes + 3, header_bytes + 41, header_bytes + 100});
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(received, &header);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::vector<float>> values = CollectRuns(*reader, 37, 5);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(*values, payload);
  EXPECT_EQ(reader->remaining(), 0u);
}

TEST(FrameTest, ForEachRunStopsAtTheFirstErrorAndRefusesShortPayloads) {
  std::vector<float> payload = {1, 2, 3, 4, 5, 6};
  const grpc::ByteBuffer frame =
      MakeFrame(SampleHeader(), {BorrowedSlice(payload.data(), payload.size() * sizeof(float))});
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(frame, &header);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(CollectRuns(*reader, 7, 4).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(reader->remaining(), 6 * sizeof(float));  // Nothing consumed.
  int calls = 0;
  const absl::Status stopped =
      ForEachRun<float>(*reader, 6, 2, [&](uint64_t first, absl::Span<const float>) {
        ++calls;
        return first == 2 ? absl::InvalidArgumentError("bad run") : absl::OkStatus();
      });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 2);
}

TEST(FrameTest, SplitHandsEachPayloadItsOwnReader) {
  std::vector<float> payload = {1, 2, 3, 4, 5};
  const grpc::ByteBuffer frame =
      MakeFrame(SampleHeader(), {BorrowedSlice(payload.data(), payload.size() * sizeof(float))});
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(frame.Dump(&slices).ok());
  const size_t header_bytes = slices[0].size();
  // Cuts inside the first float and inside the third.
  const grpc::ByteBuffer received = Resplit(frame, {header_bytes + 2, header_bytes + 9});
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader = FrameReader::Open(received, &header);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->Split(6 * sizeof(float)).status().code(), absl::StatusCode::kOutOfRange);
  absl::StatusOr<FrameReader> first = reader->Split(2 * sizeof(float));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->remaining(), 2 * sizeof(float));
  EXPECT_EQ(reader->remaining(), 3 * sizeof(float));
  float a[2], b[3];
  ASSERT_TRUE(first->Read(a, sizeof(a)).ok());
  ASSERT_TRUE(reader->Read(b, sizeof(b)).ok());
  EXPECT_EQ(std::vector<float>(a, a + 2), (std::vector<float>{1, 2}));
  EXPECT_EQ(std::vector<float>(b, b + 3), (std::vector<float>{3, 4, 5}));
  EXPECT_EQ(first->remaining(), 0u);
}

TEST(FrameTest, ShortPayloadIsOutOfRangeAndConsumesNothing) {
  std::vector<float> values = {1.0f};
  v1::PushRequest header;
  absl::StatusOr<FrameReader> reader =
      FrameReader::Open(MakeFrame(SampleHeader(), {BorrowedSlice(values.data(), 4)}), &header);
  ASSERT_TRUE(reader.ok());
  float out[2];
  EXPECT_EQ(reader->Read(out, 8).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(reader->remaining(), 4u);
  EXPECT_EQ(reader->Skip(8).code(), absl::StatusCode::kOutOfRange);
}

TEST(FrameTest, MalformedFramesAreInvalidArgument) {
  v1::PushRequest header;
  const char tiny[] = {1, 0};
  grpc::Slice two(tiny, 2);
  EXPECT_EQ(FrameReader::Open(grpc::ByteBuffer(&two, 1), &header).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Claims a 100-byte header but carries 3 bytes.
  const char overlong[] = {100, 0, 0, 0, 1, 2, 3};
  grpc::Slice slice(overlong, sizeof(overlong));
  EXPECT_EQ(FrameReader::Open(grpc::ByteBuffer(&slice, 1), &header).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A 3-byte header that is not a valid message (field 0 is illegal).
  const char garbage[] = {3, 0, 0, 0, 0, 0, 0};
  grpc::Slice bad(garbage, sizeof(garbage));
  EXPECT_EQ(FrameReader::Open(grpc::ByteBuffer(&bad, 1), &header).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ps
