// The iframe page (embed.html): shows the report carried in this page's
// address fragment, embed.html#view=…&theme=…&r=<deflate + base64url JSON>,
// as the PROFILE app's Embed panel writes it. The fragment never reaches a
// server, so any static host serves this page.
import './widget.js';

const el = document.querySelector('profile-report');
const show = () => el.showFragment(location.hash.slice(1));
addEventListener('hashchange', show);
show();
