/*
 * quote.h - quoting strings the way Go's strconv.Quote (fmt's %q) does, so that messages that
 * embed a value ("Invalid value: \"a b\": ...") read exactly as Kubernetes prints them.
 */
#ifndef KORCH_BASE_QUOTE_H
#define KORCH_BASE_QUOTE_H

#include <stddef.h>
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

#endif
