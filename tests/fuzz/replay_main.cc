// Runs a fuzz target's LLVMFuzzerTestOneInput over the files named on the command line (its seed
// corpus) and reports how many: the corpus replay in the test suite, and the main of a fuzzer
// built without libFuzzer. A crash or sanitizer report fails it like any test.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int replayed = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 1;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++replayed;
  }
  if (replayed == 0) {
    std::fprintf(stderr, "replay: no input files (give the corpus files as arguments)\n");
    return 1;
  }
  std::printf("replayed %d inputs\n", replayed);
  return 0;
}
