#pragma once
// The manipulation tables: for each configuration that ran manipulations (everything but the two
// manipulations equal), accuracy per (prefill manipulation, generation manipulation).
#include <cstdint>
#include <string>
#include <vector>

#include "hybridlens/report/niah_results.hpp"
#include "hybridlens/report/table.hpp"

namespace hl {

struct ManipulationTable {
  std::string label;                        // the configuration without its manipulations
  std::vector<std::string> prefill;         // rows, in the order keep, omit, only, binary, null
  std::vector<std::string> generation;      // columns, same order
  std::vector<double> accuracy;             // [rows x columns]; NaN where the pair was not run
  std::vector<int64_t> cells;               // [rows x columns]
};

// One table per group of configurations that differ only in their manipulations, for groups where
// some manipulation other than keep/keep was run.
std::vector<ManipulationTable> manipulation_tables(const std::vector<NiahConfig>& configs);

// As a Table: first column the prefill manipulation, then one column per generation manipulation,
// cells "accuracy (n)".
Table to_table(const ManipulationTable& m);

}  // namespace hl
