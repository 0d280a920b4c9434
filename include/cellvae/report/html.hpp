// Building blocks of a self-contained HTML page: escaping text that comes from data, and
// embedding files (PNG figures, SVG diagrams) in the page itself, so that it opens offline
// and makes no request to any other place.
#pragma once

#include <string>
#include <string_view>

namespace cellvae::report {

/// `text` made safe as HTML element content and as a quoted attribute value: & < > " ' become
/// &amp; &lt; &gt; &quot; &#39;. Every other byte is kept, so UTF-8 text stays UTF-8.
std::string html_escape(std::string_view text);

/// Base64 of arbitrary bytes (RFC 4648 section 4: the standard alphabet, '=' padding, no line
/// breaks), as data: URIs need it.
std::string base64_encode(std::string_view bytes);

/// "data:<mime>;base64,<base64 of bytes>", for an <img src>: the bytes travel inside the page.
std::string data_uri(std::string_view mime, std::string_view bytes);

/// An SVG document made fit to sit inline in an HTML page: the XML declaration, DOCTYPE and
/// comments before the <svg> element are dropped, and so are the root element's xmlns
/// declarations (the HTML parser puts <svg> in the SVG namespace itself; the namespace URLs are
/// never fetched, but leaving them out keeps the page free of any URL). Throws InputError when
/// `svg` holds no <svg element.
std::string inline_svg(std::string_view svg);

}  // namespace cellvae::report
