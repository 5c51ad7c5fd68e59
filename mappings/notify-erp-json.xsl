<?xml version="1.0" encoding="UTF-8"?>
<!--
  Normalized customs receipt (<receipt xmlns="urn:portgate:receipt:1">) of a Golden-2 verification list →
  the factory ERP's notification, JSON variant: one object per receipt, the fields of MovementNotice
  (xsd/partners/erp-materials.xsd), absent values as null. The XML variant is notify-erp-xml.xsl;
  docs/partners/erp-materials.md describes both.

  - movementNo: the receipt's EtpsPreentNo / etpsPreentNo / invPreentNo (= the list's EtpsInnerInvtNo),
    else the correlated original's partnerRef.
  - customsSeqNo: SeqNo (CommonResponeMessage); bondInvtNo: businessId (INV201/202/211) — except that
    businessId is the list's SeqNo until customs numbered the list (golden2-types.xsd): an all-digit
    businessId is taken as the SeqNo, one with letters (QD…) as the BondInvtNo.
  - entrySeqNo: INV202's generated declaration.
  - time: re-written as yyyy-MM-ddTHH:mm:ss when it is a time pg:time reads, else passed on as received.
  - Strings are escaped for JSON (quote, backslash, tab, CR, LF).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:r="urn:portgate:receipt:1"
                xmlns:pg="urn:portgate:xpath"
                extension-element-prefixes="pg"
                exclude-result-prefixes="r pg">

  <xsl:output method="text" encoding="UTF-8"/>

  <xsl:template match="/r:receipt">
    <xsl:variable name="doc">
      <xsl:variable name="k" select="normalize-space((r:key[@name = 'EtpsPreentNo' or @name = 'etpsPreentNo' or @name = 'invPreentNo' or @name = 'EtpsInnerInvtNo'][normalize-space() != ''])[1])"/>
      <xsl:choose>
        <xsl:when test="$k != ''"><xsl:value-of select="$k"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="normalize-space(r:original/@partnerRef)"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="bid" select="normalize-space(r:key[@name = 'businessId'])"/>
    <xsl:variable name="bidIsSeq" select="$bid != '' and translate($bid, '0123456789', '') = ''"/>
    <xsl:variable name="seq">
      <xsl:choose>
        <xsl:when test="normalize-space(r:key[@name = 'SeqNo']) != ''"><xsl:value-of select="normalize-space(r:key[@name = 'SeqNo'])"/></xsl:when>
        <xsl:when test="$bidIsSeq"><xsl:value-of select="$bid"/></xsl:when>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="bond">
      <xsl:choose>
        <xsl:when test="normalize-space(r:key[@name = 'BondInvtNo']) != ''"><xsl:value-of select="normalize-space(r:key[@name = 'BondInvtNo'])"/></xsl:when>
        <xsl:when test="$bid != '' and not($bidIsSeq)"><xsl:value-of select="$bid"/></xsl:when>
      </xsl:choose>
    </xsl:variable>
    <xsl:text>{"notice":"movement-status"</xsl:text>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'movementNo'"/><xsl:with-param name="value" select="$doc"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'customsSeqNo'"/><xsl:with-param name="value" select="$seq"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'bondInvtNo'"/><xsl:with-param name="value" select="$bond"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'entrySeqNo'"/><xsl:with-param name="value" select="normalize-space(r:key[@name = 'entrySeqNo'])"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'receiptType'"/><xsl:with-param name="value" select="@type"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'status'"/><xsl:with-param name="value" select="@status"/><xsl:with-param name="null" select="false()"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'meaning'"/><xsl:with-param name="value" select="r:meaning"/><xsl:with-param name="null" select="false()"/></xsl:call-template>
    <xsl:text>,"final":</xsl:text>
    <xsl:value-of select="@final = 'true'"/>
    <xsl:text>,"ok":</xsl:text>
    <xsl:value-of select="@judgement = 'ok'"/>
    <xsl:call-template name="field">
      <xsl:with-param name="name" select="'time'"/>
      <xsl:with-param name="value">
        <xsl:call-template name="time"><xsl:with-param name="t" select="normalize-space(r:time)"/></xsl:call-template>
      </xsl:with-param>
    </xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'info'"/><xsl:with-param name="value" select="r:info"/></xsl:call-template>
    <xsl:call-template name="field"><xsl:with-param name="name" select="'gatewayId'"/><xsl:with-param name="value" select="r:original/@id"/></xsl:call-template>
    <xsl:text>}&#10;</xsl:text>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">the input must be a normalized receipt (receipt in urn:portgate:receipt:1)</xsl:message>
  </xsl:template>

  <!-- ,"name":"value" — or null when the value is empty and null is allowed ("" otherwise). -->
  <xsl:template name="field">
    <xsl:param name="name"/>
    <xsl:param name="value"/>
    <xsl:param name="null" select="true()"/>
    <xsl:text>,"</xsl:text>
    <xsl:value-of select="$name"/>
    <xsl:text>":</xsl:text>
    <xsl:choose>
      <xsl:when test="$null and normalize-space($value) = ''">null</xsl:when>
      <xsl:otherwise>
        <xsl:text>"</xsl:text>
        <xsl:call-template name="escape"><xsl:with-param name="s" select="string($value)"/></xsl:call-template>
        <xsl:text>"</xsl:text>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- A receipt time in the form pg:time reads → yyyy-MM-ddTHH:mm:ss; anything else unchanged. -->
  <xsl:template name="time">
    <xsl:param name="t"/>
    <xsl:choose>
      <xsl:when test="$t != '' and pg:matches($t, '[0-9]{8}|[0-9]{12}|[0-9]{14}|[0-9]{17}|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?')">
        <xsl:value-of select="pg:time($t, 'yyyy-MM-ddTHH:mm:ss')"/>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$t"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- JSON string escaping: \ and " first, then the whitespace controls XML can carry. -->
  <xsl:template name="escape">
    <xsl:param name="s"/>
    <xsl:call-template name="replace">
      <xsl:with-param name="s">
        <xsl:call-template name="replace">
          <xsl:with-param name="s">
            <xsl:call-template name="replace">
              <xsl:with-param name="s">
                <xsl:call-template name="replace">
                  <xsl:with-param name="s">
                    <xsl:call-template name="replace">
                      <xsl:with-param name="s" select="$s"/>
                      <xsl:with-param name="from" select="'\'"/>
                      <xsl:with-param name="to" select="'\\'"/>
                    </xsl:call-template>
                  </xsl:with-param>
                  <xsl:with-param name="from" select="'&quot;'"/>
                  <xsl:with-param name="to" select="'\&quot;'"/>
                </xsl:call-template>
              </xsl:with-param>
              <xsl:with-param name="from" select="'&#10;'"/>
              <xsl:with-param name="to" select="'\n'"/>
            </xsl:call-template>
          </xsl:with-param>
          <xsl:with-param name="from" select="'&#13;'"/>
          <xsl:with-param name="to" select="'\r'"/>
        </xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="from" select="'&#9;'"/>
      <xsl:with-param name="to" select="'\t'"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="s"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($s, $from)">
        <xsl:value-of select="substring-before($s, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="s" select="substring-after($s, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

</xsl:stylesheet>
