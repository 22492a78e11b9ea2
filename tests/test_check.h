// test_check.h — doctest helpers shared by the test files (include after <doctest/doctest.h>).
#pragma once
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "tensor/common.h"

namespace tg::test {

// Run `fn`, expect a tg::Error whose message contains every piece of `needles` (errors must name the
// file, field, tensor ... they are about).
template <typename Fn>
void check_error(Fn fn, std::initializer_list<const char*> needles) {
    try {
        fn();
        FAIL("expected an error containing ", *needles.begin());
    } catch (const tg::Error& e) {
        std::string m = e.what();
        for (const char* n : needles) CHECK_MESSAGE(m.find(n) != std::string::npos, "'", n, "' not in: ", m);
    }
}

}  // namespace tg::test
