%% The seed's comet test server ("A Million-user Comet Application with Mochiweb", part 1), written again for
%% comet-lab on Debian's erlang-mochiweb: GET /test/<Id> answers a chunked text/html stream with the seed's welcome,
%% then a chunk "Chunk <N> for id <Id>" every interval (the seed's 10 s), forever. One Erlang process per connection
%% sleeping in `receive ... after`, as in the seed.
%%
%% Started by orchestrator/targets/mochiweb.ts:
%%   erl -noshell -noinput +K true +P 1048576 +Q 1048576 -pa <ebin> -run mochiconntest start <Ip> <Port> <IntervalMs>
%% Several VMs may share the port (each holds at most ~19,800 sockets under this host's 20,000-file limit):
%% SO_REUSEPORT is set on the listener through kernel's inet_default_listen_options, because mochiweb 3.1.1 passes no
%% socket option of its own choosing to gen_tcp:listen (and OTP 25 has no reuseport option yet).
-module(mochiconntest).
-export([start/1, loop/2]).

-define(SOL_SOCKET, 1).
-define(SO_REUSEPORT, 15).

%% `-run` calls this from the boot process, which ends once boot is done and takes what it links to along: the
%% server is started from a process of its own that stays.
start(Args) ->
    Parent = self(),
    spawn(fun () -> Parent ! {started, listen(Args)}, receive stop -> ok end end),
    receive {started, Result} -> Result end.

listen([IpText, PortText, IntervalText]) ->
    {ok, Ip} = inet:parse_address(IpText),
    Port = list_to_integer(PortText),
    Interval = list_to_integer(IntervalText),
    ok = application:set_env(kernel, inet_default_listen_options,
                             [{raw, ?SOL_SOCKET, ?SO_REUSEPORT, <<1:32/native>>}]),
    Loop = fun (Req) -> ?MODULE:loop(Req, Interval) end,
    %% max: mochiweb's default of 2048 concurrent connections would refuse the rest.
    {ok, _} = mochiweb_http:start([{name, mochiconntest}, {ip, Ip}, {port, Port}, {loop, Loop},
                                   {max, 1048576}, {backlog, 4096}, {acceptor_pool_size, 16}]),
    io:format("comet-lab mochiweb ready {\"port\":~b,\"pid\":\"~s\"}~n", [Port, os:getpid()]),
    ok.

loop(Req, Interval) ->
    Path = mochiweb_request:get(path, Req),
    case {mochiweb_request:get(method, Req), Path} of
        {'GET', "/test/" ++ Id} when Id =/= "" ->
            Response = mochiweb_request:ok({"text/html; charset=utf-8", [{"Server", "Mochiweb-Test"}], chunked}, Req),
            mochiweb_response:write_chunk("Mochiconntest welcomes you! Your Id: " ++ Id ++ "\n", Response),
            feed(Response, Id, 1, Interval);
        {'GET', _} ->
            mochiweb_request:not_found(Req);
        _ ->
            mochiweb_request:respond({501, [], []}, Req)
    end.

feed(Response, Id, N, Interval) ->
    receive
    after Interval ->
        mochiweb_response:write_chunk(io_lib:format("Chunk ~b for id ~s\n", [N, Id]), Response)
    end,
    feed(Response, Id, N + 1, Interval).
