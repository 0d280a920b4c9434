#include <gtest/gtest.h>

#include "cellvae/data_frame.hpp"
#include "cellvae/dataset.hpp"
#include "cellvae/error.hpp"

using namespace cellvae;

TEST(DataFrame, MissingColumnErrorListsAvailable) {
  DataFrame df;
  df.index = {"c1", "c2"};
  df.set(Column::categorical_from_labels("cell_type", {"T", "B"}));
  df.set(Column::make_number("score", {1.0, 2.0}));
  try {
    df.at("celltype");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "column 'celltype' not in obs; available: cell_type, score");
  }
  EXPECT_EQ(df.at("score").numbers[1], 2.0);
  EXPECT_THROW(df.set(Column::make_number("bad", {1.0})), InputError);
}

TEST(DataFrame, CategoricalFromLabelsKeepsFirstAppearanceOrder) {
  const Column c = Column::categorical_from_labels("x", {"b", "a", "b", "c"});
  EXPECT_EQ(c.categories, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(c.codes, (std::vector<std::int32_t>{0, 1, 0, 2}));
  EXPECT_EQ(c.text(3), "c");
  EXPECT_THROW(Column::make_categorical("y", {"a"}, {0, 1}), InputError);
}

TEST(DataFrame, TakeSubsetsEveryColumn) {
  DataFrame df;
  df.index = {"a", "b", "c"};
  df.set(Column::make_integer("n", {1, 2, 3}));
  df.set(Column::make_boolean("flag", {1, 0, 1}));
  df.set(Column::make_string("s", {"x", "y", "z"}));
  const DataFrame t = df.take({2, 0});
  EXPECT_EQ(t.index, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(t.at("n").integers, (std::vector<std::int64_t>{3, 1}));
  EXPECT_EQ(t.at("flag").booleans, (std::vector<std::uint8_t>{1, 1}));
  EXPECT_EQ(t.at("s").strings, (std::vector<std::string>{"z", "x"}));
}

TEST(DataFrame, MakeNamesUniqueLikeAnndata) {
  std::vector<std::string> names{"A", "B", "A", "A", "A-1"};
  // "A-1" is taken, so the duplicates of A become.
  EXPECT_EQ(make_names_unique(names), 2u);
  EXPECT_EQ(names, (std::vector<std::string>{"A", "B", "A-2", "A-3", "A-1"}));
  std::vector<std::string> unique{"x", "y"};
  EXPECT_EQ(make_names_unique(unique), 0u);
}

TEST(Dataset, ValidateCatchesShapeMismatch) {
  Dataset ds;
  const float dense[] = {1, 0, 0, 2};
  ds.X = csr_from_dense(dense, 2, 2);
  ds.obs.index = {"c1", "c2"};
  ds.var.index = {"g1"};
  ds.source = "x.h5ad";
  try {
    ds.validate();
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "X has 2 columns (genes) but var has 1 entries in x.h5ad");
  }
  ds.var.index.push_back("g2");
  EXPECT_NO_THROW(ds.validate());
  make_dataset_names_unique(ds);
  EXPECT_TRUE(ds.warnings.empty());
  ds.obs.index = {"c", "c"};
  make_dataset_names_unique(ds);
  ASSERT_EQ(ds.warnings.size(), 1u);
  EXPECT_EQ(ds.obs.index[1], "c-1");
}

TEST(Dataset, SubsetCarriesObsVarObsm) {
  Dataset ds;
  const float dense[] = {1, 2, 3, 4, 5, 6};
  ds.X = csr_from_dense(dense, 2, 3);
  ds.obs.index = {"c1", "c2"};
  ds.obs.set(Column::make_integer("n", {10, 20}));
  ds.var.index = {"g1", "g2", "g3"};
  ds.obsm["X_pca"] = DenseArray{2, 2, {0.1, 0.2, 0.3, 0.4}};
  const Dataset s = subset(ds, {1}, {2, 0});
  EXPECT_EQ(to_dense(s.X), (std::vector<float>{6, 4}));
  EXPECT_EQ(s.obs.index, (std::vector<std::string>{"c2"}));
  EXPECT_EQ(s.var.index, (std::vector<std::string>{"g3", "g1"}));
  EXPECT_EQ(s.obsm.at("X_pca").values, (std::vector<double>{0.3, 0.4}));
  EXPECT_NO_THROW(s.validate());
}

TEST(Dataset, SubsetInPlaceEqualsSubset) {
  Dataset ds;
  const float dense[] = {1, 0, 3, 0, 5, 6, 7, 8, 0};
  ds.X = csr_from_dense(dense, 3, 3);
  ds.obs.index = {"c1", "c2", "c3"};
  ds.obs.set(Column::make_integer("n", {10, 20, 30}));
  ds.var.index = {"g1", "g2", "g3"};
  ds.obsm["X_pca"] = DenseArray{3, 2, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}};
  const Dataset copied = subset(ds, {1, 2}, {0, 2});
  Dataset in_place = ds;
  subset_in_place(in_place, {1, 2}, {0, 2});
  EXPECT_EQ(to_dense(in_place.X), to_dense(copied.X));
  EXPECT_EQ(to_dense(in_place.X), (std::vector<float>{0, 6, 7, 0}));
  EXPECT_EQ(in_place.obs.index, copied.obs.index);
  EXPECT_EQ(in_place.obs.at("n").integers, (std::vector<std::int64_t>{20, 30}));
  EXPECT_EQ(in_place.var.index, (std::vector<std::string>{"g1", "g3"}));
  EXPECT_EQ(in_place.obsm.at("X_pca").values, copied.obsm.at("X_pca").values);
  EXPECT_NO_THROW(in_place.validate());
  EXPECT_THROW(subset_in_place(in_place, {1, 0}, {0}), InputError);
}
