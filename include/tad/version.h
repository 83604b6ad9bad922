/* version.h - the version string, set by the Makefile (TAD_VERSION). */
#ifndef TAD_VERSION_H
#define TAD_VERSION_H

#ifdef TAD_VERSION
#define TAD_VERSION_STRING TAD_VERSION
#else
#define TAD_VERSION_STRING "0.0.0-dev"
#endif

#define TAD_USER_AGENT "tiktok-audienced/" TAD_VERSION_STRING

#endif
