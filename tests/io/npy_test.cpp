#include "hybridlens/io/npy.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "io_test_util.hpp"

using hl::DType;
using hl::Shape;
using hl::Tensor;
using hl_test::TempDir;
using hl_test::write_bytes;

namespace {

// A .npy v1.0 file with the given header dict text (padded to 64 bytes) and data bytes.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += '\0';
  if (major == 1) {
    const uint16_t n = uint16_t(header.size());
    out.append(reinterpret_cast<const char*>(&n), 2);
  } else {
    const uint32_t n = uint32_t(header.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
  }
  return out + header + data;
}

std::string f32_bytes(std::initializer_list<float> v) {
  std::string out(v.size() * 4, '\0');
  std::memcpy(out.data(), v.begin(), out.size());
  return out;
}

Tensor f32_tensor(Shape shape) {
  Tensor t = Tensor::zeros(DType::F32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.5f * float(i) - 1.0f;
  return t;
}

// Runs `script` (which exits with 77 when numpy is missing) with the first python3 that has numpy.
// Returns the exit status, or 77 when no interpreter with numpy was found.
int run_with_numpy(const std::string& script, const std::string& arg, const std::string& log) {
  for (const char* py : {"python3", "/usr/bin/python3"}) {
    const std::string cmd = std::string(py) + " " + script + " " + arg + " > " + log + " 2>&1";
    const int rc = std::system(cmd.c_str());
    // 77: this python has no numpy; 127: the shell found no such interpreter.
    if (rc != -1 && WIFEXITED(rc) && (WEXITSTATUS(rc) == 77 || WEXITSTATUS(rc) == 127)) continue;
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
  }
  return 77;
}

}  // namespace

TEST(Npy, RoundTrip) {
  TempDir dir;
  Tensor a = f32_tensor({2, 3});
  hl::write_npy(dir.file("a.npy"), a);
  Tensor i = Tensor::zeros(DType::I32, {4});
  i.data<int32_t>()[0] = -5;
  i.data<int32_t>()[3] = 2147483647;
  hl::write_npy(dir.file("i.npy"), i);
  Tensor u = Tensor::zeros(DType::U8, {2, 1, 2});
  u.data<uint8_t>()[3] = 255;
  hl::write_npy(dir.file("u.npy"), u);
  const float s = 3.25f;
  hl::write_npy(dir.file("s.npy"), &s, Shape{});
  hl::write_npy(dir.file("e.npy"), nullptr, Shape{0, 5});

  const std::vector<std::pair<std::string, Tensor>> cases = {{"a.npy", a}, {"i.npy", i}, {"u.npy", u}};
  for (const auto& [name, t] : cases) {
    Tensor r = hl::read_npy(dir.file(name));
    EXPECT_EQ(r.dtype(), t.dtype()) << name;
    EXPECT_EQ(r.shape(), t.shape()) << name;
    EXPECT_EQ(std::memcmp(r.raw(), t.raw(), t.nbytes()), 0) << name;
    EXPECT_FALSE(std::filesystem::exists(dir.file(name) + ".tmp"));
  }
  Tensor rs = hl::read_npy(dir.file("s.npy"));
  EXPECT_EQ(rs.shape(), Shape{});
  EXPECT_EQ(rs.data<float>()[0], 3.25f);
  EXPECT_EQ(hl::read_npy(dir.file("e.npy")).shape(), (Shape{0, 5}));
}

TEST(Npy, HeaderLayout) {
  TempDir dir;
  hl::write_npy(dir.file("a.npy"), f32_tensor({2, 3}));
  const std::string raw = hl_test::read_bytes(dir.file("a.npy"));
  ASSERT_GE(raw.size(), 10u);
  EXPECT_EQ(raw.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  uint16_t hlen;
  std::memcpy(&hlen, raw.data() + 8, 2);
  EXPECT_EQ((10 + hlen) % 64, 0);
  EXPECT_EQ(raw[10 + hlen - 1], '\n');
  EXPECT_NE(raw.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), std::string::npos);
  EXPECT_EQ(raw.size(), 10u + hlen + 24);
  hl::write_npy(dir.file("v.npy"), Tensor::zeros(DType::U8, {7}));
  EXPECT_NE(hl_test::read_bytes(dir.file("v.npy")).find("'descr': '|u1', 'fortran_order': False, 'shape': (7,)"),
            std::string::npos);
}

TEST(Npy, WriteRejectsOtherDTypes) {
  TempDir dir;
  HL_EXPECT_ERROR(hl::write_npy(dir.file("b.npy"), Tensor::zeros(DType::BF16, {2})), dir.file("b.npy"), "BF16");
  HL_EXPECT_ERROR(hl::write_npy(dir.file("b.npy"), Tensor()), dir.file("b.npy"), "undefined");
  EXPECT_FALSE(std::filesystem::exists(dir.file("b.npy")));
}

TEST(Npy, ReadsI8AsI32WithRangeCheck) {
  TempDir dir;
  int64_t ok[3] = {-3, 0, 2147483647};
  write_bytes(dir.file("ok.npy"), npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                            std::string(reinterpret_cast<const char*>(ok), 24)));
  Tensor t = hl::read_npy(dir.file("ok.npy"));
  EXPECT_EQ(t.dtype(), DType::I32);
  EXPECT_EQ(t.data<int32_t>()[0], -3);
  EXPECT_EQ(t.data<int32_t>()[2], 2147483647);
  int64_t bad[2] = {1, int64_t(1) << 40};
  write_bytes(dir.file("bad.npy"), npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                                             std::string(reinterpret_cast<const char*>(bad), 16)));
  HL_EXPECT_ERROR(hl::read_npy(dir.file("bad.npy")), dir.file("bad.npy"), "element 1", "does not fit in int32");
}

TEST(Npy, ReadsVersion2Header) {
  TempDir dir;
  write_bytes(dir.file("v2.npy"), npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                            f32_bytes({1.5f, -2.0f}), 2));
  Tensor t = hl::read_npy(dir.file("v2.npy"));
  EXPECT_EQ(t.data<float>()[1], -2.0f);
}

TEST(Npy, ReadErrors) {
  TempDir dir;
  const std::string p = dir.file("x.npy");
  HL_EXPECT_ERROR(hl::read_npy(p), p);  // missing
  write_bytes(p, "not numpy at all");
  HL_EXPECT_ERROR(hl::read_npy(p), p, "not a .npy file");
  write_bytes(p, "");
  HL_EXPECT_ERROR(hl::read_npy(p), p, "not a .npy file");
  const std::string good_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  write_bytes(p, npy_bytes(good_dict, f32_bytes({1, 2})));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "truncated .npy data", "needs 12 bytes", "holds 8");
  write_bytes(p, npy_bytes(good_dict, f32_bytes({1, 2, 3, 4})));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "4 unexpected bytes");
  write_bytes(p, npy_bytes(good_dict, "").substr(0, 30));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "truncated .npy header");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", f32_bytes({1})));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "Fortran-order");
  write_bytes(p, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", f32_bytes({1})));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "big-endian");
  write_bytes(p, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", std::string(8, 'x')));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "'<f8' is not supported");
  write_bytes(p, npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "abcd"));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "malformed .npy header");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'shape': (1,), }", "abcd"));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "exactly the keys");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "abcd"));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "malformed .npy header");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "abcd"));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "malformed .npy header");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", ""));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "too large");
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", ""));
  HL_EXPECT_ERROR(hl::read_npy(p), p, "too large");
  std::string v9 = npy_bytes(good_dict, f32_bytes({1, 2, 3}));
  v9[6] = 9;
  write_bytes(p, v9);
  HL_EXPECT_ERROR(hl::read_npy(p), p, "unsupported .npy format version 9");
}

// Files written here load in numpy, and files numpy writes load here.
TEST(Npy, InteroperatesWithNumpy) {
  TempDir dir;
  hl::write_npy(dir.file("f32.npy"), f32_tensor({2, 3}));
  Tensor i = Tensor::zeros(DType::I32, {4});
  i.data<int32_t>()[0] = -5;
  i.data<int32_t>()[2] = 7;
  i.data<int32_t>()[3] = 2147483647;
  hl::write_npy(dir.file("i32.npy"), i);
  Tensor u = Tensor::zeros(DType::U8, {2, 1, 2});
  for (int k = 0; k < 4; ++k) u.data<uint8_t>()[k] = uint8_t(k == 0 ? 0 : k == 1 ? 1 : k == 2 ? 128 : 255);
  hl::write_npy(dir.file("u8.npy"), u);
  const float s = 3.25f;
  hl::write_npy(dir.file("scalar.npy"), &s, Shape{});
  hl::write_npy(dir.file("empty.npy"), nullptr, Shape{0, 5});

  write_bytes(dir.file("check.py"), R"(import sys
try:
    import numpy as np
except ImportError:
    sys.exit(77)
d = sys.argv[1]
a = np.load(d + '/f32.npy')
assert a.dtype == np.float32 and a.shape == (2, 3), (a.dtype, a.shape)
assert (a == np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1).all(), a
b = np.load(d + '/i32.npy')
assert b.dtype == np.int32 and b.tolist() == [-5, 0, 7, 2147483647], b
c = np.load(d + '/u8.npy')
assert c.dtype == np.uint8 and c.shape == (2, 1, 2) and c.ravel().tolist() == [0, 1, 128, 255], c
s = np.load(d + '/scalar.npy')
assert s.shape == () and s == 3.25, s
e = np.load(d + '/empty.npy')
assert e.shape == (0, 5) and e.dtype == np.float32, e
np.save(d + '/np_f4.npy', np.arange(12, dtype='<f4').reshape(3, 4) / 4)
np.save(d + '/np_i8.npy', np.array([[1, -2], [3, 2**31 - 1]], dtype='<i8'))
np.save(d + '/np_i4.npy', np.array([-1, 5], dtype='<i4'))
np.save(d + '/np_u1.npy', np.array([9, 200], dtype=np.uint8))
np.save(d + '/np_f8.npy', np.zeros(2))
np.save(d + '/np_fortran.npy', np.asfortranarray(np.ones((2, 3), dtype='<f4')))
np.save(d + '/np_be.npy', np.ones(2, dtype='>f4'))
)");
  const int rc = run_with_numpy(dir.file("check.py"), dir.str(), dir.file("log.txt"));
  if (rc == 77) GTEST_SKIP() << "no python3 with numpy found; skipping the numpy interoperability check";
  ASSERT_EQ(rc, 0) << hl_test::read_bytes(dir.file("log.txt"));

  Tensor f4 = hl::read_npy(dir.file("np_f4.npy"));
  EXPECT_EQ(f4.shape(), (Shape{3, 4}));
  EXPECT_EQ(f4.data<float>()[11], 2.75f);
  Tensor i8 = hl::read_npy(dir.file("np_i8.npy"));
  EXPECT_EQ(i8.dtype(), DType::I32);
  EXPECT_EQ(i8.shape(), (Shape{2, 2}));
  EXPECT_EQ(i8.data<int32_t>()[1], -2);
  EXPECT_EQ(i8.data<int32_t>()[3], 2147483647);
  EXPECT_EQ(hl::read_npy(dir.file("np_i4.npy")).data<int32_t>()[0], -1);
  EXPECT_EQ(hl::read_npy(dir.file("np_u1.npy")).data<uint8_t>()[1], 200);
  HL_EXPECT_ERROR(hl::read_npy(dir.file("np_f8.npy")), "np_f8.npy", "'<f8' is not supported");
  HL_EXPECT_ERROR(hl::read_npy(dir.file("np_fortran.npy")), "np_fortran.npy", "Fortran-order");
  HL_EXPECT_ERROR(hl::read_npy(dir.file("np_be.npy")), "np_be.npy", "big-endian");
}
