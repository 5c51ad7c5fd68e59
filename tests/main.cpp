// Catch2 entry point for the portgate suite.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
