-- Driven by test/e2e/neovim.test.ts: headless Neovim (Debian's, 0.7) starts `loupe lsp` as its
-- language server for a workspace, asks for workspace symbols the way a user does
-- (vim.lsp.buf.workspace_symbol fills the quickfix list), writes the list to $OUT, and quits.
local ws = vim.env.WS
local log = {}
local function note(s) table.insert(log, s) end

local id = vim.lsp.start_client({
  name = "loupe",
  cmd = { vim.env.NODE, vim.env.LOUPE_BIN, "lsp" },
  root_dir = ws,
  workspace_folders = { { uri = vim.uri_from_fname(ws), name = "ws" } },
  on_exit = function(code) note("loupe lsp exited with " .. tostring(code)) end,
})
vim.cmd("edit " .. ws .. "/src/retry.py")
vim.lsp.buf_attach_client(0, id)
local ok = vim.wait(30000, function()
  local c = vim.lsp.get_client_by_id(id)
  return c ~= nil and c.initialized == true
end, 100)
note("initialized: " .. tostring(ok))

-- The folder is indexed in the background: ask until the index answers.
vim.wait(90000, function()
  local r = vim.lsp.buf_request_sync(0, "workspace/symbol", { query = vim.env.QUERY }, 5000)
  return r ~= nil and r[id] ~= nil and r[id].result ~= nil and #r[id].result > 0
end, 500)

-- What a user types: the results land in the quickfix list.
vim.lsp.buf.workspace_symbol(vim.env.QUERY)
vim.wait(10000, function() return #vim.fn.getqflist() > 0 end, 100)
local out = {}
for _, item in ipairs(vim.fn.getqflist()) do
  table.insert(out, vim.fn.fnamemodify(vim.fn.bufname(item.bufnr), ":p") .. ":" .. item.lnum .. ":" .. item.text)
end
for _, l in ipairs(log) do table.insert(out, "# " .. l) end
vim.fn.writefile(out, vim.env.OUT)
vim.lsp.stop_client(id)
vim.wait(5000, function() return vim.lsp.get_client_by_id(id) == nil end, 100)
vim.cmd("qa!")
