// The posts the page sent or means to send whose own message has not come
// back yet (docs/chat-protocol.md, "Posts with an id"). Each has a random
// id; they live in sessionStorage, so a reload or a dropped connection
// loses nothing typed, and resending one is always safe: the server stores
// an id once and answers a retry with the stored message.
'use strict';

const outbox = (() => {
  const KEY = 'cws-chat.outbox';
  const MAX = 100;                      // posts waiting at most: sessionStorage is small
  const ID_FORMAT = /^[0-9a-f]{32}$/;
  let posts = load();

  function load() {
    try {
      const l = JSON.parse(sessionStorage.getItem(KEY) || '[]');
      return Array.isArray(l) ? l.filter((p) => p && ID_FORMAT.test(p.id) && typeof p.text === 'string') : [];
    } catch (e) {
      return [];
    }
  }

  function save() {
    try {
      sessionStorage.setItem(KEY, JSON.stringify(posts));
    } catch (e) { /* storage full or disabled: the posts still wait in-page */ }
  }

  // 128 random bits: unguessable, so no one can claim our id first.
  function newId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  return {
    all: () => posts.slice(),
    full: () => posts.length >= MAX,
    // Keeps text as a new post; returns it ({ id, text }).
    add(text) {
      const post = { id: newId(), text };
      posts.push(post);
      save();
      return post;
    },
    // Our post id came back stored: true if it was waiting here.
    done(id) {
      const n = posts.length;
      posts = posts.filter((p) => p.id !== id);
      if (posts.length === n) return false;
      save();
      return true;
    },
  };
})();
