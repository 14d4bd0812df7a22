// The paas playground: GraphiQL on this server's own /graphql and /graphql/ws. Everything it
// loads comes from this server (the page's Content-Security-Policy allows nothing else).
// The headers typed in GraphiQL's header editor go with every request, and as the
// connection_init payload of the websocket, so the token is entered once for both.
(function () {
  'use strict';
  var httpUrl = new URL('/graphql', window.location.origin).toString();
  var wsUrl = new URL('/graphql/ws', window.location.origin);
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';

  // One websocket client per distinct set of headers: a new token opens a new connection.
  var clients = {};
  function wsClient(headers) {
    var key = JSON.stringify(headers || {});
    if (!clients[key]) {
      clients[key] = graphqlWs.createClient({
        url: wsUrl.toString(),
        connectionParams: headers || {},
        lazy: true,
      });
    }
    return clients[key];
  }

  function isSubscription(params, opts) {
    var doc = opts && opts.documentAST;
    // GraphiQL parses the editor's text after a pause: run right after an edit (a paste and
    // Ctrl-Enter), the document it passes is the previous text's. Only this text's counts.
    if (doc && !(doc.loc && doc.loc.source && doc.loc.source.body === params.query)) {
      doc = null;
    }
    if (!doc) {
      // Without comments: the named operation's keyword, or the first one's.
      var text = (params.query || '').replace(/#[^\n]*/g, '');
      if (params.operationName) {
        return new RegExp('\\bsubscription\\s+' + params.operationName + '\\b').test(text);
      }
      return /^\s*subscription\b/.test(text);
    }
    var ops = doc.definitions.filter(function (d) { return d.kind === 'OperationDefinition'; });
    var op = ops.find(function (d) {
      return params.operationName ? d.name && d.name.value === params.operationName : true;
    });
    return !!op && op.operation === 'subscription';
  }

  function fetcher(params, opts) {
    var headers = (opts && opts.headers) || {};
    if (isSubscription(params, opts)) {
      var client = wsClient(headers);
      return {
        subscribe: function (observer) {
          var sink = {
            next: function (v) { observer.next && observer.next(v); },
            error: function (e) { observer.error && observer.error(e); },
            complete: function () { observer.complete && observer.complete(); },
          };
          var dispose = client.subscribe(params, sink);
          return { unsubscribe: dispose };
        },
      };
    }
    var all = Object.assign({ 'Content-Type': 'application/json', Accept: 'application/json' }, headers);
    return fetch(httpUrl, { method: 'POST', headers: all, body: JSON.stringify(params), credentials: 'omit' })
      .then(function (r) { return r.json(); });
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      headers: '{"Authorization": "Bearer "}',
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
    })
  );
})();
