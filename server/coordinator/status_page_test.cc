#include "server/coordinator/status_page.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace ps {
namespace {

// The embedded page is the source file byte for byte (no escaping lost or added by the
// generator), and it is self-contained: nothing is fetched from another origin.
TEST(StatusPageTest, EmbedsTheHtmlFileExactly) {
  std::ifstream file("server/coordinator/status_page.html", std::ios::binary);
  ASSERT_TRUE(file.is_open()) << "status_page.html is not in the test's runfiles";
  std::ostringstream html;
  html << file.rdbuf();
  ASSERT_GT(html.str().size(), 1000u);
  EXPECT_EQ(std::string(StatusPageHtml()), html.str());
}

TEST(StatusPageTest, LoadsNothingFromOtherOrigins) {
  const std::string page(StatusPageHtml());
  // Every way HTML or CSS can pull in another resource (the SVG namespace URI is not one).
  for (const char* external : {"<script src", "<link", "@import", "url(", "src=\"http", "src=\"//",
                               "href=\"http", "href=\"//"}) {
    EXPECT_EQ(page.find(external), std::string::npos) << external;
  }
  EXPECT_NE(page.find("/api/status?curves=1"), std::string::npos);
}

}  // namespace
}  // namespace ps
