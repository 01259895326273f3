// The Processor API: Processor<KIn,VIn,KOut,VOut> and its supplier.
#pragma once

#include <functional>
#include <memory>

#include "sluice/core/processor_context.h"
#include "sluice/core/record.h"

namespace sluice {

// A processor is made fresh for every task by its supplier, so it may keep per-task state in
// members. init() is called once before the first record, close() once at the end.
// process() receives the record by value: move from it freely.
// An exception thrown from process() or a punctuator is caught at the node boundary and
// handed to the processing exception handler.
template <typename KIn, typename VIn, typename KOut, typename VOut>
class Processor {
 public:
  using KeyIn = KIn;
  using ValueIn = VIn;
  using KeyOut = KOut;
  using ValueOut = VOut;
  using Context = ProcessorContext<KOut, VOut>;

  virtual ~Processor() = default;
  virtual void init(Context& context) { context_ = &context; }
  virtual void process(Record<KIn, VIn> record) = 0;
  virtual void close() {}

 protected:
  // Set by the default init(); an override that does not call Processor::init keeps its own.
  Context& context() const { return *context_; }

 private:
  Context* context_ = nullptr;
};

// Must return a new instance on each call (Kafka Streams' ProcessorSupplier contract).
template <typename KIn, typename VIn, typename KOut, typename VOut>
using ProcessorSupplier = std::function<std::unique_ptr<Processor<KIn, VIn, KOut, VOut>>()>;

}  // namespace sluice
