// The cellflow extension: starts `cellflow lsp` (from PATH, or the
// `cellflow.server.path` setting) for the DSL (*.flow) and YAML
// (*.flow.yaml, *.flow.yml, cellflow.yaml) files of the workspace.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration('cellflow');
  const command = settings.get('server.path', 'cellflow');
  const debounce = String(settings.get('server.debounceMs', 150));
  const server = { command, args: ['lsp', '--debounce-ms', debounce] };
  client = new LanguageClient(
    'cellflow',
    'cellflow',
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: 'file', language: 'cellflow' },
        // YAML files stay YAML (so the YAML extension's schema validation
        // applies too); the server takes those that are a bot's files.
        { scheme: 'file', language: 'yaml', pattern: '**/*.flow.{yaml,yml}' },
        { scheme: 'file', language: 'yaml', pattern: '**/cellflow.yaml' },
      ],
      synchronize: {
        // Files changed outside the editor (a `git checkout`, `cellflow fmt --write`).
        fileEvents: vscode.workspace.createFileSystemWatcher('**/{*.flow,*.flow.yaml,*.flow.yml,cellflow.yaml}'),
      },
    },
  );
  context.subscriptions.push(client);
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `cellflow: could not start \`${command} lsp\` (${error.message}). ` +
        'Install cellflow (`cargo install --path .` in its repository) or set `cellflow.server.path`.',
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
