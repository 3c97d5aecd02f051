/* IRC text: parsing a client's line (RFC 2812 section 2.3.1), names and
 * channels, case mapping, and formatting lines that fit the protocol's
 * 512 bytes. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "chat_internal.h"

/* A command is letters (NICK) or three digits (a numeric). Anything else
 * in that place means the client is not speaking IRC. */
static bool valid_command(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

static char *skip_spaces(char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

/* Cuts the next space-separated word; returns what follows it. */
static char *cut_word(char *p)
{
    while (*p && *p != ' ')
        p++;
    if (*p)
        *p++ = 0;
    return p;
}

int irc_parse(char *line, irc_msg_t *out)
{
    memset(out, 0, sizeof *out);
    char *p = skip_spaces(line);
    if (!*p)
        return 1; /* empty lines are ignored (RFC 2812 2.3.1) */
    if (*p == '@') /* IRCv3 message tags: not used here */
        p = skip_spaces(cut_word(p));
    if (*p == ':') /* a client's prefix is ignored (RFC 2812 2.3) */
        p = skip_spaces(cut_word(p));
    if (!*p)
        return -1;
    out->cmd = p;
    p = cut_word(p);
    if (!valid_command(out->cmd))
        return -1;
    for (char *c = (char *)out->cmd; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    while (*(p = skip_spaces(p)) && out->nparams < IRC_MAX_PARAMS) {
        if (*p == ':' || out->nparams == IRC_MAX_PARAMS - 1) {
            out->params[out->nparams++] = *p == ':' ? p + 1 : p;
            break;
        }
        out->params[out->nparams++] = p;
        p = cut_word(p);
    }
    return 0;
}

void irc_casefold(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++) {
        char ch = in[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        else if (ch == '[')
            ch = '{';
        else if (ch == ']')
            ch = '}';
        else if (ch == '\\')
            ch = '|';
        else if (ch == '~')
            ch = '^';
        out[i] = ch;
    }
    out[i] = 0;
}

static bool nick_special(char ch)
{
    return strchr("[]\\`_^{|}", ch) != NULL;
}

bool irc_valid_nick(const char *nick)
{
    size_t n = strlen(nick);
    if (n == 0 || n > NICK_MAX)
        return false;
    if (!isalpha((unsigned char)nick[0]) && !nick_special(nick[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)nick[i]) && !nick_special(nick[i]) &&
            nick[i] != '-')
            return false;
    return true;
}

bool irc_valid_chan(const char *chan)
{
    size_t n = strlen(chan);
    if (n < 2 || n > CHAN_MAX || (chan[0] != '#' && chan[0] != '&'))
        return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char ch = (unsigned char)chan[i];
        if (ch <= ' ' || ch == ',' || ch == ':' || ch == 0x7f)
            return false;
    }
    return true;
}

int irc_vformat(char *buf, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, IRC_LINE - 1, fmt, ap);
    if (n < 0)
        n = 0;
    if (n > IRC_LINE - 2)
        n = IRC_LINE - 2; /* cut, as servers do, to fit the CRLF */
    buf[n++] = '\r';
    buf[n++] = '\n';
    buf[n] = 0;
    return n;
}

int irc_format(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = irc_vformat(buf, fmt, ap);
    va_end(ap);
    return n;
}
