// bert_fused.cpp — bert_fused_impl.h for baseline x86-64, and the run-time choice of the table.
#define TG_BERT_FUSED_TABLE bert_fused_base
#include "nn/bert_fused_impl.h"

#include "tensor/cpu_isa.h"

namespace tg::detail {

const BertFusedFns& bert_fused() {
    switch (cpu_isa()) {
        case Isa::avx512: return bert_fused_avx512();
        case Isa::avx2: return bert_fused_avx2();
        default: return bert_fused_base();
    }
}

}  // namespace tg::detail
