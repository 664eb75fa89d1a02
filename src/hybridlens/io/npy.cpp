#include "hybridlens/io/npy.hpp"

#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string_view>

#include "hybridlens/core/error.hpp"
#include "hybridlens/core/mapped_file.hpp"
#include "hybridlens/io/atomic_file.hpp"

namespace hl {

static_assert(std::endian::native == std::endian::little, ".npy I/O assumes a little-endian host");

namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

const char* npy_descr(DType t) {
  switch (t) {
    case DType::F32: return "<f4";
    case DType::I32: return "<i4";
    case DType::U8: return "|u1";
    default: return nullptr;
  }
}

std::string shape_tuple(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

void write_npy_bytes(const std::string& path, const char* descr, const void* data, size_t nbytes,
                     const Shape& shape) {
  for (int64_t d : shape) HL_CHECK(d >= 0, path, ": cannot write shape ", shape_str(shape), " to .npy");
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " +
                       shape_tuple(shape) + ", }";
  // magic (6) + version (2) + header length (2) + header, ending in '\n', a multiple of 64 bytes.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  HL_CHECK(header.size() <= 65535, path, ": .npy header too long for format 1.0 (shape ", shape_str(shape), ")");
  const uint16_t hlen = uint16_t(header.size());
  const unsigned char version[2] = {1, 0};

  AtomicFileWriter out(path);
  out.write(kMagic, 6);
  out.write(version, 2);
  out.write(&hlen, 2);
  out.write(header);
  if (nbytes > 0) out.write(data, nbytes);
  out.commit();
}

// A parser for the Python literal of a .npy header: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  struct Value {
    enum Kind { String, Bool, Tuple, Other } kind = Other;
    std::string str;
    bool b = false;
    Shape tuple;
  };

  std::map<std::string, Value> parse_dict() {
    std::map<std::string, Value> out;
    expect('{');
    skip_ws();
    while (peek() != '}') {
      const std::string key = parse_string();
      expect(':');
      out[key] = parse_value();
      skip_ws();
      if (peek() == ',') {
        ++i_;
        skip_ws();
      } else if (peek() != '}') {
        bad("expected ',' or '}'");
      }
    }
    ++i_;
    skip_ws();
    if (i_ != s_.size()) bad("unexpected text after the dictionary");
    return out;
  }

 private:
  [[noreturn]] void bad(const char* what) const {
    fail(path_, ": malformed .npy header (", what, " at character ", i_, "): ", printable(s_));
  }
  static std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    while (!out.empty() && (out.back() == ' ' || out.back() == '?')) out.pop_back();  // padding and '\n'
    return out;
  }
  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  char peek() {
    skip_ws();
    if (i_ >= s_.size()) bad("unexpected end");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) {
      const char msg[] = {'e', 'x', 'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', c, '\'', 0};
      bad(msg);
    }
    ++i_;
  }
  std::string parse_string() {
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') bad("escapes are not supported");
      out += s_[i_++];
    }
    if (i_ >= s_.size()) bad("unterminated string");
    ++i_;
    return out;
  }
  Value parse_value() {
    Value v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = Value::String;
      v.str = parse_string();
    } else if (s_.substr(i_, 4) == "True") {
      v.kind = Value::Bool;
      v.b = true;
      i_ += 4;
    } else if (s_.substr(i_, 5) == "False") {
      v.kind = Value::Bool;
      i_ += 5;
    } else if (c == '(') {
      v.kind = Value::Tuple;
      ++i_;
      while (peek() != ')') {
        if (!std::isdigit(static_cast<unsigned char>(s_[i_]))) bad("expected a non-negative integer dimension");
        int64_t d = 0;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
          if (__builtin_mul_overflow(d, int64_t(10), &d) || __builtin_add_overflow(d, int64_t(s_[i_] - '0'), &d))
            bad("dimension too large");
          ++i_;
        }
        if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 long literal
        v.tuple.push_back(d);
        if (peek() == ',') ++i_;
        else if (peek() != ')') bad("expected ',' or ')' in the shape");
      }
      ++i_;
    } else {
      bad("unsupported value (a structured dtype?)");
    }
    return v;
  }

  std::string_view s_;
  const std::string& path_;
  size_t i_ = 0;
};

}  // namespace

void write_npy(const std::string& path, const Tensor& t) {
  HL_CHECK(t.defined(), path, ": cannot write an undefined tensor to .npy");
  HL_CHECK(t.device().kind == DeviceKind::CPU, path, ": tensor ", t.describe(), " is on ", t.device().str(),
           ", not the CPU");
  const char* descr = npy_descr(t.dtype());
  HL_CHECK(descr != nullptr, path, ": .npy writing supports F32, I32 and U8, not ", t.describe(),
           " (convert it to F32 first)");
  write_npy_bytes(path, descr, t.raw(), t.nbytes(), t.shape());
}

void write_npy(const std::string& path, const float* data, const Shape& shape) {
  for (int64_t d : shape) HL_CHECK(d >= 0, path, ": cannot write shape ", shape_str(shape), " to .npy");
  const size_t n = size_t(shape_numel(shape));
  HL_CHECK(data != nullptr || n == 0, path, ": null data for shape ", shape_str(shape));
  write_npy_bytes(path, "<f4", data, n * sizeof(float), shape);
}

Tensor read_npy(const std::string& path) {
  auto file = MappedFile::open(path);
  const unsigned char* p = file->data();
  const size_t size = file->size();
  HL_CHECK(size >= 10 && std::memcmp(p, kMagic, 6) == 0, path, ": not a .npy file (no \\x93NUMPY magic)");
  const int major = p[6];
  size_t hlen = 0, prefix = 0;
  if (major == 1) {
    uint16_t h;
    std::memcpy(&h, p + 8, 2);
    hlen = h;
    prefix = 10;
  } else if (major == 2 || major == 3) {
    HL_CHECK(size >= 12, path, ": truncated .npy header");
    uint32_t h;
    std::memcpy(&h, p + 8, 4);
    hlen = h;
    prefix = 12;
  } else {
    fail(path, ": unsupported .npy format version ", major, ".", int(p[7]));
  }
  HL_CHECK(hlen <= size - prefix, path, ": truncated .npy header (header length ", hlen, ", file ", size,
           " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(p + prefix), hlen);
  auto dict = HeaderParser(text, path).parse_dict();

  HL_CHECK(dict.size() == 3 && dict.count("descr") && dict.count("fortran_order") && dict.count("shape"), path,
           ": .npy header must have exactly the keys descr, fortran_order and shape");
  const auto& descr = dict["descr"];
  const auto& fortran = dict["fortran_order"];
  const auto& shape_v = dict["shape"];
  HL_CHECK(descr.kind == HeaderParser::Value::String, path, ": .npy descr is not a string (structured dtype?)");
  HL_CHECK(fortran.kind == HeaderParser::Value::Bool, path, ": .npy fortran_order is not True/False");
  HL_CHECK(shape_v.kind == HeaderParser::Value::Tuple, path, ": .npy shape is not a tuple");
  HL_CHECK(!fortran.b, path, ": Fortran-order arrays are not supported (save a C-order array, e.g. "
                             "numpy.ascontiguousarray)");

  const std::string& d = descr.str;
  DType dtype;
  size_t item;
  bool from_i8 = false;
  if (d == "<f4") dtype = DType::F32, item = 4;
  else if (d == "<i4") dtype = DType::I32, item = 4;
  else if (d == "<i8") dtype = DType::I32, item = 8, from_i8 = true;
  else if (d == "|u1" || d == "<u1" || d == "u1") dtype = DType::U8, item = 1;
  else if (!d.empty() && d[0] == '>')
    fail(path, ": big-endian .npy data ('", d, "') is not supported");
  else
    fail(path, ": .npy dtype '", d, "' is not supported (supported: <f4, <i4, <i8, |u1)");

  const Shape& shape = shape_v.tuple;
  uint64_t numel = 1, need = 0;
  bool overflow = false;
  for (int64_t dim : shape) overflow |= __builtin_mul_overflow(numel, uint64_t(dim), &numel);
  overflow |= __builtin_mul_overflow(numel, uint64_t(item), &need);
  HL_CHECK(!overflow, path, ": .npy shape ", shape_str(shape), " is too large");
  const size_t have = size - prefix - hlen;
  HL_CHECK(have >= need, path, ": truncated .npy data: shape ", shape_str(shape), " of ", d, " needs ", need,
           " bytes, the file holds ", have);
  HL_CHECK(have == need, path, ": .npy file has ", have - need, " unexpected bytes after the data (shape ",
           shape_str(shape), " of ", d, ")");

  Tensor t = Tensor::zeros(dtype, shape);
  const unsigned char* data = p + prefix + hlen;
  if (!from_i8) {
    if (need > 0) std::memcpy(t.raw(), data, need);
    return t;
  }
  int32_t* out = t.data<int32_t>();
  for (uint64_t i = 0; i < numel; ++i) {
    int64_t v;
    std::memcpy(&v, data + i * 8, 8);
    HL_CHECK(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(), path,
             ": element ", i, " = ", v, " does not fit in int32 (reading <i8 as I32)");
    out[i] = int32_t(v);
  }
  return t;
}

}  // namespace hl
