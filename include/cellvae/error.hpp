// Errors thrown by cellvae. The library never prints or exits: it throws, and the command line
// turns an InputError into a message on stderr and exit code 2.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace cellvae {

/// Bad input from the user: a missing or corrupt file, an unknown key, invalid values, an option
/// out of range. The message names the file, key or value so that a biologist can fix it.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Joins names for messages ("a, b, c"), eliding after `limit` entries ("… and 12 more").
std::string join_names(const std::vector<std::string>& names, std::size_t limit = 20);

/// A number for messages: 15 significant digits, so "0.1" stays "0.1" and not
/// "0.10000000000000001".
std::string format_number(double value);

}  // namespace cellvae
