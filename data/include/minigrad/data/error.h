// minigrad/data/error.h - the one exception type of the data layer.
#pragma once

#include <stdexcept>
#include <string>

namespace minigrad::data {

// Thrown by every reader in minigrad::data when a file is missing, malformed or inconsistent.
// The message always starts with the file it is about ("<path>: ...") and says, with numbers,
// what is wrong.
class DataError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace minigrad::data
