-- Pandoc filter for bundle serve (bundler/web/render.py): MediaWiki's URLs for
-- internal links and images, templates shown as boxes instead of dropped, and
-- no raw HTML or script links from a page's text.

local function wiki_url(target)
  return "/wiki/" .. target:gsub(" ", "_")
end

function Link(el)
  local scheme = el.target:match("^%s*(%a[%w+.-]*):")
  if scheme and scheme:lower() ~= "http" and scheme:lower() ~= "https" and scheme:lower() ~= "mailto"
     and el.title ~= "wikilink" then
    return el.content  -- javascript: and other schemes: the text only
  end
  if el.title == "wikilink" then
    el.target = wiki_url(el.target)
    el.title = ""
    el.classes:insert("wikilink")
  end
  return el
end

function Image(el)
  if not el.src:match("^%a+://") then
    el.src = "/file/" .. el.src:gsub(" ", "_")
  end
  return el
end

-- A template call: its name and its parameters, in a box the stylesheet draws.
local function template_box(text)
  local inner = text:sub(3, -3)
  local name, rest = inner:match("^%s*([^|]-)%s*|(.*)$")
  if name == nil then name, rest = inner:match("^%s*(.-)%s*$"), "" end
  local parts = { pandoc.Strong({ pandoc.Str("{{" .. name .. "}}") }) }
  if rest ~= "" then
    table.insert(parts, pandoc.Space())
    table.insert(parts, pandoc.Code(rest))
  end
  return parts
end

function RawInline(el)
  if el.format == "mediawiki" and el.text:match("^{{") then
    return pandoc.Span(template_box(el.text), { class = "template" })
  end
  return {}  -- raw HTML (and anything else raw) never reaches the page
end

function RawBlock(el)
  if el.format == "mediawiki" and el.text:match("^{{") then
    return pandoc.Div({ pandoc.Plain(template_box(el.text)) }, { class = "template" })
  end
  return {}
end
