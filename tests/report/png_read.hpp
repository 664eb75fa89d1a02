#pragma once
// Reading the PNG files headless Chromium writes (8-bit RGB or RGBA, not interlaced) into RGB pixels,
// for tests that look at what a page showed. zlib inflates the image data; the five PNG row filters
// are undone here.
#include <cstdint>
#include <string>
#include <vector>

namespace hl::test {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]
};

// Throws std::runtime_error saying what is wrong with the file.
RgbImage read_png_rgb(const std::string& path);

// Pixels exactly equal to the colour (0xRRGGBB).
int64_t count_colour(const RgbImage& img, uint32_t rgb);
// Distinct colours among the pixels.
size_t distinct_colours(const RgbImage& img);

}  // namespace hl::test
