/*
 * korch.h - everything public in libkorch. Include this one header.
 */
#ifndef KORCH_H
#define KORCH_H

#include <korch/common.h>
#include <korch/client.h>
#include <korch/gitops.h>
#include <korch/image.h>
#include <korch/korch.h>
#include <korch/log.h>
#include <korch/loop.h>
#include <korch/node.h>
#include <korch/object.h>
#include <korch/print.h>
#include <korch/resource.h>
#include <korch/version.h>

#endif
