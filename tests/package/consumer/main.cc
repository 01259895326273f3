// Uses the installed Sluice through its one public header; exits non-zero if anything is off.
#include <sluice/sluice.h>

#include <iostream>

int main() {
  auto id = sluice::TaskId::parse("1_4");
  if (!id.ok() || id->to_string() != "1_4") {
    std::cerr << "TaskId round trip failed\n";
    return 1;
  }
  std::cout << "sluice package ok\n";
  return 0;
}
