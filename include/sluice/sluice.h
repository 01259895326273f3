// The one header a Sluice application includes.
#pragma once

#include "sluice/core/serde.h"
#include "sluice/core/types.h"
