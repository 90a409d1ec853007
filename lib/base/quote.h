/*
 * quote.h - text the way Go writes it, so that what korch prints reads exactly as Kubernetes
 * prints it: strconv.Quote (fmt's %q) for messages that embed a value ("Invalid value: \"a b\":
 * ..."), strconv.FormatFloat's shortest forms, and JSON as Kubernetes' Go encoders write it
 * (field paths in managedFields, manager identities).
 */
#ifndef KORCH_BASE_QUOTE_H
#define KORCH_BASE_QUOTE_H

#include <stddef.h>
#include <jansson.h>
#include "base/strbuf.h"

/*
 * Appends s (len bytes, NULs allowed) to sb in double quotes with Go's escapes: \" and \\,
 * \a \b \f \n \r \t \v, \xHH for other ASCII controls, DEL and bytes that are not valid UTF-8,
 * \uHHHH / \UHHHHHHHH for non-printable code points (C1 controls, format characters, spaces
 * other than U+0020, private use); every other valid UTF-8 sequence is copied as it is.
 * Go decides "printable" from full Unicode tables; korch knows the categories above and treats
 * the rest of Unicode (including unassigned code points) as printable.
 * Returns 0 or KORCH_ENOMEM.
 */
int strbuf_put_go_quoted(struct strbuf *sb, const char *s, size_t len);

/* The same into a new string; NULL when out of memory. */
char *go_quote(const char *s);

/*
 * Appends strconv.FormatFloat(v, fmt, -1, 64) for fmt 'e', 'f' or 'g': the shortest digits that
 * read back as v; 'e' writes at least two exponent digits (1e+06), 'g' uses 'e' when the
 * exponent is below -4 or at least 6 (what fmt's %v prints for a float64). Infinities and NaN
 * as Go writes them: "+Inf", "-Inf", "NaN". Returns 0 or KORCH_ENOMEM.
 */
int strbuf_put_go_float(struct strbuf *sb, double v, char fmt);

/*
 * Appends s (len bytes) as a JSON string the way Kubernetes' Go encoders write it with HTML
 * escaping on: \" \\ \n \r \t; \u00XX for the other control characters; \u003c \u003e
 * \u0026 for < > &; \u2028 and \u2029; \ufffd for each byte that is not valid UTF-8; every
 * other character as it is. This is json-iterator's output, which structured-merge-diff uses
 * for the keys of managedFields (Go's encoding/json has written \b and \f short since Go 1.22;
 * json-iterator never did). Returns 0 or KORCH_ENOMEM.
 */
int strbuf_put_go_json_string(struct strbuf *sb, const char *s, size_t len);

/*
 * Appends v as compact JSON the way the same encoders write a decoded value: object keys sorted
 * bytewise (a Go map), strings as strbuf_put_go_json_string(), integers in decimal, reals in
 * encoding/json's form (the shortest 'f' digits between 1e-6 and 1e21, 'e' outside it with
 * "e-07" shortened to "e-7"; a real that holds an integer is written without a point: 2.0 is
 * "2"). Returns 0, KORCH_ENOMEM, or KORCH_EINVALID for an infinite or NaN real (jansson does
 * not make them; encoding/json refuses them).
 */
int strbuf_put_go_json(struct strbuf *sb, const json_t *v);

#endif
