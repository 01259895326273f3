// The one header a Sluice application includes.
#pragma once

#include "sluice/core/json_serde.h"
#include "sluice/core/protobuf_serde.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/types.h"
#include "sluice/core/windowed.h"
