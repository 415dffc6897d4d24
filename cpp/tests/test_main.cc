#include <cstring>

#include "tests/test_framework.h"

namespace lowp_test {
std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}
static int g_case_failures = 0;
void fail(const char* file, int line, const std::string& msg) {
  if (g_case_failures < 5) std::printf("  FAIL %s:%d %s\n", file, line, msg.c_str());
  ++g_case_failures;
}
int failures_in_case() { return g_case_failures; }
}  // namespace lowp_test

int main(int argc, char** argv) {
  using namespace lowp_test;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (const Case& c : registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    g_case_failures = 0;
    try {
      c.fn();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("exception: ") + e.what());
    }
    if (g_case_failures == 0) {
      ++passed;
      std::printf("ok   %s\n", c.name);
    } else {
      ++failed;
      std::printf("FAIL %s (%d failures)\n", c.name, g_case_failures);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
