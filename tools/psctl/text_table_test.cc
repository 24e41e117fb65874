#include "tools/psctl/text_table.h"

#include "gtest/gtest.h"

namespace ps::psctl {
namespace {

TEST(TextTableTest, AlignsColumnsToTheWidestCellAndTrimsLineEnds) {
  Table table({{"NAME", "name"}, {"N", "n"}, {"NOTE", "note"}});
  table.AddRow({"a", Cell::Integer(12345), Cell::None()});
  table.AddRow({"longer name", Cell::Number(0.5, "50 %"), "x"});
  EXPECT_EQ(table.ToText(),
            "NAME         N      NOTE\n"
            "a            12345  -\n"
            "longer name  50 %   x\n");
}

TEST(TextTableTest, JsonHasTypedValuesInColumnOrder) {
  Table table({{"NAME", "name"}, {"N", "n"}, {"NOTE", "note"}, {"IDS", "ids"}});
  table.AddRow({"a \"quoted\" name", Cell::Number(0.5, "50 %"), Cell::None(), Cell::Ids({2, 3})});
  table.AddRow({"b", Cell::Integer(7), "x", Cell::Ids({})});
  EXPECT_EQ(table.ToJson(), R"([{"name":"a \"quoted\" name","n":0.5,"note":null,"ids":[2,3]},)"
                            R"({"name":"b","n":7,"note":"x","ids":[]}])");
}

TEST(TextTableTest, EmptyTableIsItsHeadings) {
  Table table({{"A", "a"}, {"B", "b"}});
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.ToText(), "A  B\n");
  EXPECT_EQ(table.ToJson(), "[]");
}

}  // namespace
}  // namespace ps::psctl
