/* SPDX-License-Identifier: MIT */
#ifndef LSINIT_VERSION_H
#define LSINIT_VERSION_H
#ifndef LSINIT_VERSION
#define LSINIT_VERSION "0.0.0-dev"
#endif
#endif
