/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TCP connection events from sock and tcp tracepoints (issue 15): being written. */
#pragma once
