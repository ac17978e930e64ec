/* Deterministic corpora for the DEFLATE codec benchmarks (codec_inflate.c,
 * codec_deflate.c): the same seed gives the same bytes on every machine.
 *
 *   CORPUS_JSON    chat-like JSON messages, one per line:
 *                  {"type":"message","seq":N,"name":...,"text":...}
 *   CORPUS_TEXT    English-like prose from a fixed word list
 *   CORPUS_HTML    nested tags with attributes and text
 *   CORPUS_RANDOM  uniformly random bytes (incompressible)
 *
 * Everything is static: include it in one benchmark file. */
#ifndef CWS_BENCH_CODEC_CORPUS_H
#define CWS_BENCH_CODEC_CORPUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum codec_corpus { CORPUS_JSON, CORPUS_TEXT, CORPUS_HTML, CORPUS_RANDOM, CORPUS_COUNT };

static const char *const codec_corpus_names[CORPUS_COUNT] = {"json-chat", "english", "html",
                                                            "random"};

/* splitmix64: small, fast, and fully determined by the seed. */
static uint64_t codec_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t codec_below(uint64_t *s, size_t n) { return (size_t)(codec_rand(s) % n); }

static const char *const codec_words[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on",
    "are", "with", "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or",
    "had", "by", "hot", "word", "but", "what", "some", "we", "can", "out", "other", "were",
    "all", "there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which",
    "do", "their", "time", "if", "will", "way", "about", "many", "then", "them", "write",
    "would", "like", "so", "these", "her", "long", "make", "thing", "see", "him", "two", "has",
    "look", "more", "day", "could", "go", "come", "did", "number", "sound", "no", "most",
    "people", "my", "over", "know", "water", "than", "call", "first", "who", "may", "down",
    "side", "been", "now", "find", "any", "new", "work", "part", "take", "get", "place",
    "made", "live", "where", "after", "back", "little", "only", "round", "man", "year",
    "came", "show", "every", "good", "me", "give", "our", "under", "name", "very", "through",
    "just", "form", "sentence", "great", "think", "say", "help", "low", "line", "differ",
    "turn", "cause", "much", "mean", "before", "move", "right", "boy", "old", "too", "same",
    "tell", "does", "set", "three", "want", "air", "well", "also", "play", "small", "end",
    "put", "home", "read", "hand", "port", "large", "spell", "add", "even", "land", "here",
    "must", "big", "high", "such", "follow", "act", "why", "ask", "men", "change", "went",
    "light", "kind", "off", "need", "house", "picture", "try", "us", "again", "animal",
    "point", "mother", "world", "near", "build", "self", "earth", "father", "head", "stand",
    "own", "page", "should", "country", "found", "answer", "school", "grow", "study", "still",
    "learn", "plant", "cover", "food", "sun", "four", "between", "state", "keep", "eye",
    "never", "last", "let", "thought", "city", "tree", "cross", "farm", "hard", "start",
    "might", "story", "saw", "far", "sea", "draw", "left", "late", "run", "while", "press",
    "close", "night", "real", "life", "few", "north", "open", "seem", "together", "next",
    "white", "children", "begin", "got", "walk", "example", "ease", "paper", "group",
    "always", "music", "those", "both", "mark", "often", "letter", "until", "mile", "river",
    "car", "feet", "care", "second", "book", "carry", "took", "science", "eat", "room",
    "friend", "began", "idea", "fish", "mountain", "stop", "once", "base", "hear", "horse",
    "cut", "sure", "watch", "color", "face", "wood", "main", "enough", "plain", "girl",
    "usual", "young", "ready", "above", "ever", "red", "list", "though", "feel", "talk",
    "bird", "soon", "body", "dog", "family", "direct", "pose", "leave", "song", "measure",
    "door", "product", "black", "short", "numeral", "class", "wind", "question", "happen",
    "complete", "ship", "area", "half", "rock", "order", "fire", "south", "problem", "piece",
    "told", "knew", "pass", "since", "top", "whole", "king", "space", "heard", "best", "hour",
    "better", "true", "during", "hundred", "five", "remember", "step", "early", "hold",
    "west", "ground", "interest", "reach", "fast", "verb", "sing", "listen", "six", "table",
    "travel", "less", "morning", "ten", "simple", "several", "vowel", "toward", "war", "lay",
    "against", "pattern", "slow", "center", "love", "person", "money", "serve", "appear",
    "road", "map", "rain", "rule", "govern", "pull", "cold", "notice", "voice", "unit",
    "power", "town", "fine", "certain", "fly", "fall", "lead", "cry", "dark", "machine",
    "note", "wait", "plan", "figure", "star", "box", "noun", "field", "rest", "correct",
    "able", "pound", "done", "beauty", "drive", "stood", "contain", "front", "teach", "week",
    "final", "gave", "green", "oh", "quick", "develop", "ocean", "warm", "free", "minute",
    "strong", "special", "mind", "behind", "clear", "tail", "produce", "fact", "street",
    "inch", "multiply", "nothing", "course", "stay", "wheel", "full", "force", "blue",
    "object", "decide", "surface", "deep", "moon", "island", "foot", "system", "busy", "test",
    "record", "boat", "common", "gold", "possible", "plane", "stead", "dry", "wonder",
    "laugh", "thousand", "ago", "ran", "check", "game", "shape", "equate", "miss", "brought",
    "heat", "snow", "tire", "bring", "yes", "distant", "fill", "east", "paint", "language",
    "among"};
#define CODEC_NWORDS (sizeof codec_words / sizeof codec_words[0])

/* Appends s (cut at cap). */
static void codec_put(uint8_t *buf, size_t *n, size_t cap, const char *s) {
    size_t k = strlen(s);
    if (k > cap - *n) k = cap - *n;
    memcpy(buf + *n, s, k);
    *n += k;
}

/* Word frequencies roughly Zipf-like: low indexes far more often. */
static const char *codec_word(uint64_t *s) {
    size_t a = codec_below(s, CODEC_NWORDS), b = codec_below(s, CODEC_NWORDS);
    return codec_words[a < b ? a : b];
}

static void codec_sentence(uint8_t *buf, size_t *n, size_t cap, uint64_t *s, size_t words) {
    for (size_t w = 0; w < words && *n < cap; w++) {
        const char *word = codec_word(s);
        if (w == 0) {
            char first[32];
            snprintf(first, sizeof first, "%s", word);
            if (first[0] >= 'a' && first[0] <= 'z') first[0] = (char)(first[0] - 32);
            codec_put(buf, n, cap, first);
        } else {
            codec_put(buf, n, cap, word);
        }
        if (w + 1 < words) codec_put(buf, n, cap, codec_below(s, 9) ? " " : ", ");
    }
}

static void codec_json(uint8_t *buf, size_t cap, uint64_t *s) {
    static const char *const names[] = {"alice", "bob", "carol", "dave", "erin", "frank",
                                        "grace", "heidi", "ivan", "judy", "mallory", "oscar"};
    size_t n = 0;
    char head[160];
    for (unsigned seq = 1; n < cap; seq++) {
        snprintf(head, sizeof head, "{\"type\":\"message\",\"seq\":%u,\"name\":\"%s\",\"text\":\"",
                 seq, names[codec_below(s, sizeof names / sizeof names[0])]);
        codec_put(buf, &n, cap, head);
        codec_sentence(buf, &n, cap, s, 2 + codec_below(s, 18));
        codec_put(buf, &n, cap, codec_below(s, 4) ? "\"}\n" : "?\"}\n");
    }
}

static void codec_text(uint8_t *buf, size_t cap, uint64_t *s) {
    size_t n = 0;
    while (n < cap) {
        for (size_t k = 1 + codec_below(s, 6); k > 0 && n < cap; k--) {
            codec_sentence(buf, &n, cap, s, 4 + codec_below(s, 20));
            codec_put(buf, &n, cap, codec_below(s, 5) ? ". " : "! ");
        }
        codec_put(buf, &n, cap, "\n\n");
    }
}

static void codec_html(uint8_t *buf, size_t cap, uint64_t *s) {
    static const char *const blocks[] = {"div", "section", "article", "ul", "table", "p"};
    static const char *const inline_tags[] = {"a", "span", "em", "strong", "code"};
    static const char *const classes[] = {"item", "nav-link", "content", "row", "col-md-6",
                                          "btn btn-primary", "card-body", "title", "muted"};
    size_t n = 0;
    char tmp[200];
    codec_put(buf, &n, cap, "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
                            "<title>Corpus</title></head>\n<body>\n");
    for (unsigned id = 1; n < cap; id++) {
        const char *b = blocks[codec_below(s, sizeof blocks / sizeof blocks[0])];
        snprintf(tmp, sizeof tmp, "<%s class=\"%s\" id=\"n%u\">\n", b,
                 classes[codec_below(s, sizeof classes / sizeof classes[0])], id);
        codec_put(buf, &n, cap, tmp);
        for (size_t k = 1 + codec_below(s, 5); k > 0 && n < cap; k--) {
            const char *t = inline_tags[codec_below(s, sizeof inline_tags / sizeof inline_tags[0])];
            if (t[0] == 'a')
                snprintf(tmp, sizeof tmp, "  <li><a href=\"/%s/%u.html\" title=\"%s\">", codec_word(s),
                         (unsigned)codec_below(s, 1000), codec_word(s));
            else
                snprintf(tmp, sizeof tmp, "  <li><%s class=\"%s\">", t,
                         classes[codec_below(s, sizeof classes / sizeof classes[0])]);
            codec_put(buf, &n, cap, tmp);
            codec_sentence(buf, &n, cap, s, 1 + codec_below(s, 10));
            snprintf(tmp, sizeof tmp, "</%s></li>\n", t);
            codec_put(buf, &n, cap, tmp);
        }
        snprintf(tmp, sizeof tmp, "</%s>\n", b);
        codec_put(buf, &n, cap, tmp);
    }
}

/* Fills buf[0..len) with corpus kind, determined by seed. */
static void codec_corpus_fill(enum codec_corpus kind, uint8_t *buf, size_t len, uint64_t seed) {
    uint64_t s = seed;
    switch (kind) {
    case CORPUS_JSON: codec_json(buf, len, &s); break;
    case CORPUS_TEXT: codec_text(buf, len, &s); break;
    case CORPUS_HTML: codec_html(buf, len, &s); break;
    default:
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(codec_rand(&s) >> 32);
        break;
    }
}

#endif /* CWS_BENCH_CODEC_CORPUS_H */
