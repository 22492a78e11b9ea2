// main.cpp — doctest runner for the whole suite (`make test`).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
