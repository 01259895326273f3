// The one header a Sluice application includes.
#pragma once

#include "sluice/core/json_serde.h"
#include "sluice/core/protobuf_serde.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/types.h"
#include "sluice/core/windowed.h"
#include "sluice/state/caching.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/checkpoint.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/state_store.h"
#include "sluice/state/store_registry.h"
#include "sluice/state/typed_stores.h"
#include "sluice/state/window_store.h"
