// minigrad/data/error.h - the one exception type of the data layer.
#pragma once

#include <minigrad/tensor.h>

namespace minigrad::data {

// Thrown by every reader in minigrad::data when a file is missing, malformed or inconsistent.
// The message always starts with the file it is about ("<path>: ...") and says, with numbers,
// what is wrong. A minigrad::Error, so one catch handles every error minigrad throws.
class DataError : public Error {
 public:
  using Error::Error;
};

}  // namespace minigrad::data
