// The portgate executable: everything lives in the gateway library; this only hands over the arguments.
#include "gateway/cli/cli.hpp"

int main(int argc, char** argv) { return portgate::cli::run(argc, argv); }
