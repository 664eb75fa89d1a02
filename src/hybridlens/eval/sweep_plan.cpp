#include "hybridlens/eval/sweep_plan.hpp"

#include <map>
#include <set>

#include "hybridlens/core/error.hpp"

namespace hl {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::string manip_key(Manipulation m, bool layer_mean) {
  std::string k = manipulation_name(m);
  if (m == Manipulation::Binary && layer_mean) k += "(layer-mean)";
  return k;
}

}  // namespace

std::vector<std::string> split_list(const std::string& text, const std::string& flag) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    const size_t comma = text.find(',', at);
    const std::string item = trim(text.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    HL_CHECK(!item.empty(), flag, ": empty item in \"", text, "\" (expected a comma-separated list)");
    out.push_back(item);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

InterventionAxes parse_intervention_axes(const std::string& keep, const std::string& rank, const std::string& sparsify,
                                         const std::string& prefill_manipulation,
                                         const std::string& generation_manipulation, bool binary_layer_mean) {
  InterventionAxes a;
  a.keep.clear();
  for (const std::string& k : split_list(keep, "--keep")) {
    try {
      a.keep.push_back(parse_keep_heads(k));
    } catch (const Error&) {
      fail("--keep: expected numbers of heads or \"all\", got \"", k, "\"");
    }
  }
  a.rank = split_list(rank, "--rank");
  for (const std::string& r : a.rank) {
    LensPlan check;
    parse_rank(r, check);  // validates (and reads fixed:FILE once, so a bad file fails before any work)
  }
  a.sparsify.clear();
  for (const std::string& s : split_list(sparsify, "--sparsify")) a.sparsify.push_back(parse_sparsify(s));
  a.prefill_manipulation.clear();
  for (const std::string& s : split_list(prefill_manipulation, "--prefill-manipulation"))
    a.prefill_manipulation.push_back(parse_manipulation(s));
  a.generation_manipulation.clear();
  for (const std::string& s : split_list(generation_manipulation, "--generation-manipulation"))
    a.generation_manipulation.push_back(parse_manipulation(s));
  a.binary_layer_mean = binary_layer_mean;
  for (const std::string& r : a.rank)
    if (r.rfind("fixed:", 0) == 0)
      HL_CHECK(a.keep.size() == 1 && a.keep[0] < 0, "--rank ", r,
               " keeps the heads the file lists; leave --keep at all (the default)");
  return a;
}

std::vector<Intervention> expand_interventions(const InterventionAxes& axes, int heads) {
  std::vector<Intervention> out;
  std::set<std::string> seen;
  for (int keep : axes.keep)
    for (const std::string& rank : axes.rank)
      for (SparsifyPhase sp : axes.sparsify)
        for (Manipulation pm : axes.prefill_manipulation)
          for (Manipulation gm : axes.generation_manipulation) {
            Intervention c;
            LensPlan& p = c.plan;
            parse_rank(rank, p);
            const bool fixed = p.rank == HeadRank::Fixed;
            const int k = fixed ? -1 : (keep < 0 || keep >= heads) ? heads : keep;
            p.keep_k = (fixed || k < heads) ? k : -1;
            p.sparsify = sp;
            p.prefill_manipulation = pm;
            p.generation_manipulation = gm;
            p.binary_layer_mean = axes.binary_layer_mean;
            InterventionRecord& r = c.record;
            r.keep_k = k;
            r.heads = heads;
            r.rank = rank;
            r.sparsify = sparsify_name(sp);
            r.prefill_manipulation = manipulation_name(pm);
            r.generation_manipulation = manipulation_name(gm);
            r.binary_layer_mean = axes.binary_layer_mean;
            c.setting_key = std::to_string(k) + "|" + rank + "|" + r.sparsify + "|" + r.prefill_manipulation + "|" +
                            r.generation_manipulation + "|" + (axes.binary_layer_mean ? "1" : "0");
            if (!seen.insert(c.setting_key).second) continue;

            // What acts in each phase; without attention nothing does.
            std::string pre, gen;
            if (heads > 0) {
              const bool selects = fixed || k < heads;
              const std::string sel = fixed ? rank : "k=" + std::to_string(k) + "/" + rank;
              if (selects && p.selects_in(false)) pre += "select:" + sel + ";";
              if (selects && p.selects_in(true)) gen += "select:" + sel + ";";
              if (pm != Manipulation::Keep) pre += "manip:" + manip_key(pm, axes.binary_layer_mean) + ";";
              if (gm != Manipulation::Keep) gen += "manip:" + manip_key(gm, axes.binary_layer_mean) + ";";
            }
            c.prefill_key = "prefill[" + pre + "]";
            c.decode_key = c.prefill_key + " generation[" + gen + "]";

            // The prefill-only plan: the same selection where it acts in prefill, the prefill manipulation.
            LensPlan& q = c.prefill_plan;
            if (heads > 0) {
              q.rank = p.rank;
              q.seed = p.seed;
              q.fixed = p.fixed;
              q.binary_layer_mean = p.binary_layer_mean;
              q.prefill_manipulation = pm;
              if (p.selects_in(false) && (fixed || k < heads)) {
                q.keep_k = p.keep_k;
                q.sparsify = SparsifyPhase::Prefill;
              } else {
                q.keep_k = -1;
                if (fixed) q.rank = HeadRank::EntropyLow;  // a fixed rank selects even at keep_k = -1
              }
            }
            if (heads == 0) {
              p = LensPlan{};  // nothing to act on: run without a lens
            }
            out.push_back(std::move(c));
          }
  return out;
}

std::vector<PrefillGroup> group_interventions(const std::vector<Intervention>& cells) {
  std::vector<PrefillGroup> groups;
  std::map<std::string, size_t> group_of;
  std::map<std::string, std::pair<size_t, size_t>> decode_of;
  for (size_t i = 0; i < cells.size(); ++i) {
    const Intervention& c = cells[i];
    auto [g, new_group] = group_of.try_emplace(c.prefill_key, groups.size());
    if (new_group) groups.push_back({c.prefill_key, {}});
    PrefillGroup& pg = groups[g->second];
    auto [d, new_decode] = decode_of.try_emplace(c.decode_key, g->second, pg.decodes.size());
    if (new_decode) pg.decodes.push_back({});
    pg.decodes[d->second.second].push_back(i);
  }
  return groups;
}

PlanCounts count_plan(const std::vector<Intervention>& cells) {
  PlanCounts c;
  c.cells = int64_t(cells.size());
  for (const PrefillGroup& g : group_interventions(cells)) {
    ++c.prefills;
    c.decodes += int64_t(g.decodes.size());
  }
  return c;
}

}  // namespace hl
