// A table of typed cells that psctl shows either aligned in columns, for people, or as a JSON
// array of objects, for scripts: one definition of each view serves both, so the two never
// disagree. A value type; one thread at a time.
#ifndef PS_TOOLS_PSCTL_TEXT_TABLE_H_
#define PS_TOOLS_PSCTL_TEXT_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "google/protobuf/struct.pb.h"

namespace ps::psctl {

// One cell: the text people read and the value scripts get, which may differ in units and
// formatting ("120 ms" and 120).
struct Cell {
  // Text and JSON string alike.
  Cell(std::string text);  // NOLINT: cells are written as plain strings in row lists.
  Cell(const char* text);  // NOLINT
  // An integer, shown in decimal.
  static Cell Integer(int64_t value);
  // A number shown as `text`.
  static Cell Number(double value, std::string text);
  // Ids joined by commas ("2,3"; "-" when none) and a JSON array of numbers.
  static Cell Ids(const std::vector<uint32_t>& ids);
  // Nothing to show: "-" for people, null for scripts.
  static Cell None();

  std::string text;
  google::protobuf::Value json;
};

struct Column {
  // Upper-case heading, e.g. "HEARTBEAT".
  std::string heading;
  // Key in the JSON objects, e.g. "heartbeat_age_ms"; [a-z0-9_] only (written unescaped).
  std::string key;
};

class Table {
 public:
  explicit Table(std::vector<Column> columns);

  // REQUIRES: cells.size() equals the number of columns.
  void AddRow(std::vector<Cell> cells);
  bool empty() const { return rows_.empty(); }
  size_t num_columns() const { return columns_.size(); }

  // The headings and rows, each column as wide as its widest cell, columns two spaces apart,
  // trailing blanks trimmed, every line ending in "\n".
  std::string ToText() const;
  // [{"key":value,...},...] on one line, one object per row, keys in column order.
  std::string ToJson() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

// `message` as JSON with the proto field names and every field, also those at their default
// (what the coordinator's /api/status serves), on one line.
std::string MessageToJson(const google::protobuf::Message& message);

}  // namespace ps::psctl

#endif  // PS_TOOLS_PSCTL_TEXT_TABLE_H_
