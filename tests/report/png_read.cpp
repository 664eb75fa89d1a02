#include "report/png_read.hpp"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <unordered_set>

namespace hl::test {
namespace {

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return uint8_t(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

}  // namespace

RgbImage read_png_rgb(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot read");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 8 || !std::equal(sig, sig + 8, bytes.begin())) throw std::runtime_error(path + ": not a PNG");
  RgbImage img;
  int channels = 0;
  std::vector<uint8_t> idat;
  for (size_t at = 8; at + 12 <= bytes.size();) {
    const uint32_t len = be32(&bytes[at]);
    const std::string type(bytes.begin() + long(at) + 4, bytes.begin() + long(at) + 8);
    if (at + 12 + len > bytes.size()) throw std::runtime_error(path + ": truncated chunk " + type);
    const uint8_t* data = &bytes[at + 8];
    if (type == "IHDR") {
      img.width = int(be32(data));
      img.height = int(be32(data + 4));
      const int depth = data[8], colour = data[9], interlace = data[12];
      if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0)
        throw std::runtime_error(path + ": only 8-bit RGB/RGBA non-interlaced PNGs are read");
      channels = colour == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + len);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + len;
  }
  if (channels == 0 || img.width <= 0 || img.height <= 0) throw std::runtime_error(path + ": no IHDR");
  const size_t stride = size_t(img.width) * size_t(channels);
  std::vector<uint8_t> raw((stride + 1) * size_t(img.height));
  uLongf raw_len = uLongf(raw.size());
  if (uncompress(raw.data(), &raw_len, idat.data(), uLong(idat.size())) != Z_OK || raw_len != raw.size())
    throw std::runtime_error(path + ": image data does not inflate to " + std::to_string(raw.size()) + " bytes");
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  img.rgb.resize(size_t(img.width) * size_t(img.height) * 3);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* row = &raw[size_t(y) * (stride + 1)];
    const uint8_t filter = row[0];
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= size_t(channels) ? cur[x - size_t(channels)] : 0, b = prev[x],
                c = x >= size_t(channels) ? prev[x - size_t(channels)] : 0;
      int pred = 0;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: pred = paeth(a, b, c); break;
        default: throw std::runtime_error(path + ": unknown row filter " + std::to_string(filter));
      }
      cur[x] = uint8_t(row[1 + x] + pred);
    }
    for (int x = 0; x < img.width; ++x)
      for (int ch = 0; ch < 3; ++ch)
        img.rgb[(size_t(y) * size_t(img.width) + size_t(x)) * 3 + size_t(ch)] = cur[size_t(x) * size_t(channels) + size_t(ch)];
    prev.swap(cur);
  }
  return img;
}

int64_t count_colour(const RgbImage& img, uint32_t rgb) {
  const uint8_t r = uint8_t(rgb >> 16), g = uint8_t(rgb >> 8), b = uint8_t(rgb);
  int64_t n = 0;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3) n += img.rgb[i] == r && img.rgb[i + 1] == g && img.rgb[i + 2] == b;
  return n;
}

size_t distinct_colours(const RgbImage& img) {
  std::unordered_set<uint32_t> seen;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    seen.insert(uint32_t(img.rgb[i]) << 16 | uint32_t(img.rgb[i + 1]) << 8 | img.rgb[i + 2]);
  return seen.size();
}

}  // namespace hl::test
