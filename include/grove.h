/* Grove: Erlang/OTP's process model and supervision for C.
 * The umbrella header: include this one. */
#ifndef GROVE_H
#define GROVE_H

#include "grove/version.h"
#include "grove/error.h"
#include "grove/types.h"
#include "grove/runtime.h"
#include "grove/process.h"
#include "grove/message.h"
#include "grove/resource.h"
#include "grove/logger.h"
#include "grove/io.h"
#include "grove/gen_server.h"
#include "grove/supervisor.h"
#include "grove/application.h"
#include "grove/dynamic_supervisor.h"
#include "grove/registry.h"
#include "grove/task.h"
#include "grove/agent.h"
#include "grove/partition_supervisor.h"
#include "grove/observer.h"
#include "grove/testing.h"

#endif
