#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cellvae/data_frame.hpp"
#include "cellvae/error.hpp"
#include "cellvae/preprocess/category_encoder.hpp"
#include "test_support.hpp"

namespace cellvae {
namespace {

using cellvae::testing::error_of;

using Codes = std::vector<std::int32_t>;

TEST(CategoryEncoder, CategoricalColumnKeepsStoredOrder) {
  // Stored order is not alphabetical, and "NK" has no cells: both are kept.
  Column col = Column::make_categorical("cell_type", {"T", "B", "NK", "Mono"}, {1, 0, 3, 0, 1});
  CategoryEncoder enc = CategoryEncoder::from_column(col);
  EXPECT_EQ(enc.categories, (std::vector<std::string>{"T", "B", "NK", "Mono"}));
  EXPECT_EQ(enc.encode(col), (Codes{1, 0, 3, 0, 1}));
  EXPECT_EQ(enc.code("Mono"), 3);
  EXPECT_EQ(enc.name(2), "NK");
}

TEST(CategoryEncoder, EncodesAnotherColumnByNameNotByCode) {
  CategoryEncoder enc{{"T", "B", "Mono"}};
  // The same labels stored with other codes in a new file.
  Column other = Column::make_categorical("cell_type", {"Mono", "T", "B"}, {0, 1, 2, 1});
  EXPECT_EQ(enc.encode(other), (Codes{2, 0, 1, 0}));
}

TEST(CategoryEncoder, StringsGiveFirstAppearanceOrder) {
  CategoryEncoder enc = CategoryEncoder::from_labels({"b", "a", "b", "c", "a"});
  EXPECT_EQ(enc.categories, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(enc.encode(std::vector<std::string>{"c", "b", "a"}), (Codes{2, 0, 1}));
  Column s = Column::make_string("donor", {"d2", "d1", "d2"});
  EXPECT_EQ(CategoryEncoder::from_column(s).categories, (std::vector<std::string>{"d2", "d1"}));
  Column i = Column::make_integer("batch", {7, 3, 7, 1});
  CategoryEncoder ie = CategoryEncoder::from_column(i);
  EXPECT_EQ(ie.categories, (std::vector<std::string>{"7", "3", "1"}));
  EXPECT_EQ(ie.encode(i), (Codes{0, 1, 0, 2}));
}

TEST(CategoryEncoder, UnknownCategoryListsTheKnownOnes) {
  CategoryEncoder enc{{"a", "b", "c"}};
  EXPECT_EQ(error_of([&] { enc.code("X"); }), "unknown label 'X'; known: a, b, c");
  EXPECT_EQ(error_of([&] {
              enc.encode(std::vector<std::string>{"a", "X"});
            }),
            "unknown label 'X' in row 1; known: a, b, c");
  Column col = Column::make_categorical("cell_type", {"a", "X"}, {0, 1});
  EXPECT_EQ(error_of([&] {
              enc.encode(col, {"AAAC-1", "AAAG-1"});
            }),
            "unknown label 'X' in column 'cell_type' at row 1 (cell 'AAAG-1'); known: a, b, c");
  EXPECT_THROW(enc.name(3), InputError);
}

TEST(CategoryEncoder, MissingValuesNameTheRow) {
  CategoryEncoder enc{{"a", "b"}};
  Column col = Column::make_categorical("cell_type", {"a", "b"}, {0, -1, 1});
  EXPECT_EQ(error_of([&] {
              enc.encode(col, {"c1", "c2", "c3"});
            }),
            "missing value in column 'cell_type' at row 1 (cell 'c2')");
  EXPECT_EQ(error_of([&] { enc.encode(col); }), "missing value in column 'cell_type' at row 1");
  EXPECT_EQ(error_of([&] {
              enc.encode(std::vector<std::string>{"a", ""});
            }),
            "missing label in row 1");
  // The encoder itself is built from the values present.
  EXPECT_EQ(CategoryEncoder::from_labels({"", "b", ""}).categories, std::vector<std::string>{"b"});
}

TEST(CategoryEncoder, RejectsNumbersAndDegenerateEncoders) {
  Column num = Column::make_number("score", {0.5, 1.5});
  EXPECT_NE(error_of([&] { CategoryEncoder::from_column(num); }).find("holds numbers"),
            std::string::npos);
  EXPECT_THROW(CategoryEncoder::from_labels({"", ""}), InputError);
  EXPECT_THROW((CategoryEncoder{{"a", "a"}}).validate(), InputError);
  EXPECT_THROW((CategoryEncoder{{"a", ""}}).validate(), InputError);
}

}  // namespace
}  // namespace cellvae
